from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:03:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "complaints.breached_at from the breaches already recorded"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)

    async def run():
        # overdue_at was set at each breach and never cleared: it is the breach a reopen hid from the rates.
        await RawTable.raw("UPDATE complaints SET breached_at = overdue_at WHERE overdue_at IS NOT NULL")

    manager.add_raw(run)

    return manager
