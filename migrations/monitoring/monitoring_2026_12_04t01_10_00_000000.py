from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "device clock faults on rule states; sensor status time; sensor lifecycle events (audit)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="monitoring", description=DESCRIPTION)

    async def run():
        await RawTable.raw("ALTER TABLE monitoring_rule_states ADD COLUMN clock_fault SMALLINT NOT NULL DEFAULT 0")
        await RawTable.raw("ALTER TABLE monitoring_sensors ADD COLUMN status_at TIMESTAMPTZ NULL")
        await RawTable.raw(
            "CREATE TABLE monitoring_sensor_events ("
            " id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"
            " sensor UUID NOT NULL REFERENCES monitoring_sensors (id) ON DELETE CASCADE,"
            " kind VARCHAR(24) NOT NULL DEFAULT '',"
            " actor UUID NULL REFERENCES users (id) ON DELETE SET NULL,"
            " plan_ref VARCHAR(64) NOT NULL DEFAULT '',"
            " note TEXT NOT NULL DEFAULT '',"
            " before JSONB NOT NULL DEFAULT jsonb_build_object(),"
            " after JSONB NOT NULL DEFAULT jsonb_build_object(),"
            " at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        await RawTable.raw("CREATE INDEX monitoring_sensor_events_sensor ON monitoring_sensor_events (sensor, at)")

    async def run_backwards():
        await RawTable.raw("DROP TABLE IF EXISTS monitoring_sensor_events")
        await RawTable.raw("ALTER TABLE monitoring_rule_states DROP COLUMN IF EXISTS clock_fault")
        await RawTable.raw("ALTER TABLE monitoring_sensors DROP COLUMN IF EXISTS status_at")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
