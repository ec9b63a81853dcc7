"""ARQ worker: gathers every domain's jobs.py into one WorkerSettings."""
