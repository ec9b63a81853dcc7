from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:14:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "timers: the due-row index; live escalation steps and complaint SLA timers become timers"


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
        # The SLA stages of each complaint's current clock (fired ones first: a fired stage stays fired).
        await RawTable.raw(
            "INSERT INTO timers (id, kind, key, due_at, payload, status, version, fired_at, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'complaint_sla', t.complaint::text || ':' || t.stage || ':' || c.reopen_count,"
            " t.due_at, jsonb_build_object('complaint', t.complaint::text, 'stage', t.stage, 'clock', c.reopen_count),"
            " CASE WHEN t.fired_at IS NOT NULL THEN 'fired' ELSE 'scheduled' END, 1, t.fired_at, now(), now()"
            " FROM complaint_timers t JOIN complaints c ON c.id = t.complaint"
            " WHERE (t.version = c.sla_version AND NOT t.cancelled)"
            " OR (t.fired_at IS NOT NULL AND t.fired_at >= c.clock_started_at)"
            " ORDER BY t.fired_at IS NULL"
            " ON CONFLICT (kind, key) DO NOTHING"
        )

    async def run_backwards():
        await RawTable.raw("DROP INDEX IF EXISTS timers_due")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
