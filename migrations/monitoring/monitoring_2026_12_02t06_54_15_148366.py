from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T06:54:15:148366"
VERSION = "1.38.0"
DESCRIPTION = "one open alarm per (point, metric, rule); open alarms by project"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="monitoring", description=DESCRIPTION)

    async def run():
        # A partial unique index Piccolo cannot declare: cleared alarms may repeat, open ones may not.
        await RawTable.raw(
            "CREATE UNIQUE INDEX unique_monitoring_alarms_open ON monitoring_alarms (point, metric, rule)"
            " WHERE status <> 'cleared'"
        )
        await RawTable.raw(
            "CREATE INDEX monitoring_alarms_project_open ON monitoring_alarms (project, level DESC)"
            " WHERE status <> 'cleared'"
        )

    async def run_backwards():
        await RawTable.raw("DROP INDEX IF EXISTS unique_monitoring_alarms_open")
        await RawTable.raw("DROP INDEX IF EXISTS monitoring_alarms_project_open")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
