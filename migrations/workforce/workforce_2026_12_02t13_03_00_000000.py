from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T13:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open roster stint per (project, worker); clocks by worker and time"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="workforce", description=DESCRIPTION)

    async def run():
        # Partial unique index Piccolo cannot declare: past stints may repeat, an open one may not.
        await RawTable.raw(
            "CREATE UNIQUE INDEX unique_project_workers_open ON project_workers (project, worker)"
            " WHERE exited_at IS NULL"
        )
        # The last clock of a worker (duplicate / impossible-travel checks) and a month's attendance.
        await RawTable.raw("CREATE INDEX worker_clocks_worker_at ON worker_clocks (worker, at DESC)")
        await RawTable.raw("CREATE INDEX worker_clocks_project_at ON worker_clocks (project, at)")

    async def run_backwards():
        await RawTable.raw("DROP INDEX IF EXISTS unique_project_workers_open")
        await RawTable.raw("DROP INDEX IF EXISTS worker_clocks_worker_at")
        await RawTable.raw("DROP INDEX IF EXISTS worker_clocks_project_at")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
