from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:14:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "timers: the due-row index; live escalation steps become timers"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="timers", description=DESCRIPTION)

    async def run():
        await RawTable.raw("CREATE INDEX timers_due ON timers (due_at) WHERE status = 'scheduled'")
        # Chains started before the timer service: their next step becomes a timer (nothing is lost in the upgrade).
        await RawTable.raw(
            "INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'escalation', id::text || ':' || next_step, next_at,"
            " jsonb_build_object('escalation', id::text, 'step', next_step), 'scheduled', 1, now(), now()"
            " FROM escalations WHERE status = 'active' AND next_at IS NOT NULL"
            " ON CONFLICT (kind, key) DO NOTHING"
        )

    async def run_backwards():
        await RawTable.raw("DROP INDEX IF EXISTS timers_due")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
