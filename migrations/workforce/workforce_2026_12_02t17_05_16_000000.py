from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T17:05:16:000000"
VERSION = "1.38.0"
DESCRIPTION = "quality_hold_events: the trail of holds placed or lifted before it existed (marked backfilled)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="workforce", description=DESCRIPTION)

    async def run():
        # Raw steps run before a migration's table operations, so this lives after the one creating the table.
        await RawTable.raw(
            "INSERT INTO quality_hold_events (id, hold, action, actor, detail, at)"
            " SELECT gen_random_uuid(), h.id, 'placed', NULL,"
            "  jsonb_build_object('from', NULL, 'to', 'active', 'evidence', to_jsonb(h.evidence), 'backfilled', true),"
            "  h.started_at FROM quality_holds h"
            " WHERE NOT EXISTS (SELECT 1 FROM quality_hold_events e WHERE e.hold = h.id AND e.action = 'placed')"
        )
        await RawTable.raw(
            "INSERT INTO quality_hold_events (id, hold, action, actor, detail, at)"
            " SELECT gen_random_uuid(), h.id, 'lifted', h.lifted_by,"
            "  jsonb_build_object('from', 'active', 'to', 'lifted', 'reason', h.lift_reason, 'backfilled', true),"
            "  h.lifted_at FROM quality_holds h"
            " WHERE h.status = 'lifted' AND h.lifted_at IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM quality_hold_events e WHERE e.hold = h.id AND e.action = 'lifted')"
        )

    async def run_backwards():
        await RawTable.raw("DELETE FROM quality_hold_events WHERE detail ->> 'backfilled' = 'true'")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
