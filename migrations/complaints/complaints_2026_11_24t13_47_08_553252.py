from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-24T13:47:08:553252"
VERSION = "1.38.0"
DESCRIPTION = "index for open cases per inspector"


class _Complaints(Table, tablename="complaints"):
    """A handle for this migration's raw statements."""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)

    # Dispatch counts each inspector's open cases on every report: make that an index-only count.
    async def create_index():
        await _Complaints.raw("CREATE INDEX IF NOT EXISTS complaints_assignee_status ON complaints (assignee, status)")

    async def drop_index():
        await _Complaints.raw("DROP INDEX IF EXISTS complaints_assignee_status")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
