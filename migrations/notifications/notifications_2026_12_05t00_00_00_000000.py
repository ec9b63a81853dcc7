"""webhooks.secret sealed at rest (issue 17): AES-GCM under the PII key, context "webhook_secret".

The column grows to hold a sealed value, and every secret still stored in the clear (what registration wrote
before: 64 hex characters, no ``k<key id>.`` prefix) is sealed in the same step. Backwards opens them again.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-05T00:00:00:000000"
VERSION = "1.0"
DESCRIPTION = "webhooks.secret sealed with the PII key"

CONTEXT = "webhook_secret"  # backend.notifications.delivery.WEBHOOK_SECRET_CONTEXT
SEALED = r"^k[0-9]+\."


class _Raw(Table):
    pass


def _cipher():
    from backend.settings import get_settings
    from backend.workforce.pii import cipher

    return cipher(get_settings())


async def seal_plain_secrets() -> int:
    """Seal every webhook secret still in the clear; returns how many were sealed (0 on a second run)."""
    c = _cipher()
    rows = await _Raw.raw("SELECT id, secret FROM webhooks WHERE secret !~ {} FOR UPDATE", SEALED)
    for row in rows:
        await _Raw.raw("UPDATE webhooks SET secret = {} WHERE id = {}", c.encrypt(row["secret"], CONTEXT), row["id"])
    return len(rows)


async def open_sealed_secrets() -> int:
    c = _cipher()
    rows = await _Raw.raw("SELECT id, secret FROM webhooks WHERE secret ~ {} FOR UPDATE", SEALED)
    for row in rows:
        await _Raw.raw("UPDATE webhooks SET secret = {} WHERE id = {}", c.decrypt(row["secret"], CONTEXT), row["id"])
    return len(rows)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def up():
        await _Raw.raw("ALTER TABLE webhooks ALTER COLUMN secret TYPE varchar(200)")
        await seal_plain_secrets()

    async def down():
        await open_sealed_secrets()
        await _Raw.raw("ALTER TABLE webhooks ALTER COLUMN secret TYPE varchar(64)")

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
