"""monitoring_rule_states.rev (issue 18, speed): which writer's state a row holds, without hashing it.

The iot worker writes a new random ``rev`` with every state it writes and keeps the state in memory under that
rev; any other writer of ``state`` (the API's baseline reset and alarm clear, an operator in psql) gets a new
random rev from the trigger, so the worker sees the row is no longer its own and rebuilds. Before, the worker
compared an md5 of the row's text, computed twice per sensor per batch, and read the text beside it.
The unused index on last_ts goes, and the table keeps free room in its pages, so the per-batch state update
is a HOT update (no index entries written).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-06T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "monitoring_rule_states.rev with its trigger; last_ts unindexed; fillfactor 70"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="monitoring", description=DESCRIPTION)

    async def run():
        await RawTable.raw("ALTER TABLE monitoring_rule_states ADD COLUMN rev BIGINT NOT NULL DEFAULT 0")
        await RawTable.raw(
            "CREATE OR REPLACE FUNCTION monitoring_rule_states_new_rev() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN NEW.rev := 1 + floor(random() * 4611686018427387903)::bigint; RETURN NEW; END $$"
        )
        await RawTable.raw(
            "CREATE TRIGGER monitoring_rule_states_new_rev BEFORE UPDATE OF state ON monitoring_rule_states"
            " FOR EACH ROW WHEN (NEW.rev = OLD.rev) EXECUTE FUNCTION monitoring_rule_states_new_rev()"
        )
        await RawTable.raw("DROP INDEX IF EXISTS monitoring_rule_states_last_ts")
        await RawTable.raw("ALTER TABLE monitoring_rule_states SET (fillfactor = 70)")

    async def run_backwards():
        await RawTable.raw("ALTER TABLE monitoring_rule_states RESET (fillfactor)")
        await RawTable.raw("CREATE INDEX IF NOT EXISTS monitoring_rule_states_last_ts ON monitoring_rule_states (last_ts)")
        await RawTable.raw("DROP TRIGGER IF EXISTS monitoring_rule_states_new_rev ON monitoring_rule_states")
        await RawTable.raw("DROP FUNCTION IF EXISTS monitoring_rule_states_new_rev()")
        await RawTable.raw("ALTER TABLE monitoring_rule_states DROP COLUMN IF EXISTS rev")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
