"""The mini-program API (/mp/v1): citizens, workers and project leads, thin over backend services."""
