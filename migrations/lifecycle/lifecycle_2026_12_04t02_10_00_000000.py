from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T02:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inspection answer deadlines become timers (the minute cron is gone)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="lifecycle", description=DESCRIPTION)

    async def run():
        # Unanswered requests from before the timer service: each step not yet taken becomes a timer
        # (the escalation at the default INSPECTION_ESCALATE_AFTER_S of 24 h after the due time).
        await RawTable.raw(
            "INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'inspection_answer', id::text || ':remind', due_at,"
            " jsonb_build_object('request', id::text, 'step', 'remind'), 'scheduled', 1, now(), now()"
            " FROM inspection_requests WHERE status = 'submitted' AND reminded_at IS NULL"
            " ON CONFLICT (kind, key) DO NOTHING"
        )
        await RawTable.raw(
            "INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'inspection_answer', id::text || ':escalate', due_at + interval '24 hours',"
            " jsonb_build_object('request', id::text, 'step', 'escalate'), 'scheduled', 1, now(), now()"
            " FROM inspection_requests WHERE status = 'submitted' AND escalated_at IS NULL"
            " ON CONFLICT (kind, key) DO NOTHING"
        )

    manager.add_raw(run)

    return manager
