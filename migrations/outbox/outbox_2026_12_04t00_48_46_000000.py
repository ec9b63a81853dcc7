from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T00:48:46:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox: the due-row index; receipts still pending get their outbox rows"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outbox", description=DESCRIPTION)

    async def run():
        # Workers claim due pending rows in order; done rows are history and stay out of the index.
        await RawTable.raw("CREATE INDEX outbox_due ON outbox (available_at) WHERE status = 'pending'")
        # Receipts made before the outbox existed: each unfinished one gets its row (nothing is lost in the upgrade).
        await RawTable.raw(
            "INSERT INTO outbox (id, kind, ref, payload, status, attempts, available_at, created_at)"
            " SELECT gen_random_uuid(), 'wechat', id, jsonb_build_object(), 'pending', 0, COALESCE(next_attempt_at, created_at), now()"
            " FROM notification_deliveries WHERE channel = 'wechat' AND status IN ('pending', 'retrying', 'sending')"
        )
        await RawTable.raw(
            "INSERT INTO outbox (id, kind, ref, payload, status, attempts, available_at, created_at)"
            " SELECT gen_random_uuid(), 'webhook', id, jsonb_build_object(), 'pending', 0, COALESCE(next_attempt_at, created_at), now()"
            " FROM webhook_deliveries WHERE status IN ('pending', 'retrying', 'sending')"
        )

    async def run_backwards():
        await RawTable.raw("DROP INDEX IF EXISTS outbox_due")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
