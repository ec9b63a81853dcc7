from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:00:00:000000"
VERSION = "1.0"
DESCRIPTION = "pii_reads (unmasked personal-data audit); users.token_version; webhooks.districts; cameras.url_credentials"


class _Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="access", description=DESCRIPTION)

    async def up():
        await _Raw.raw(
            "CREATE TABLE pii_reads (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
            " at timestamptz NOT NULL DEFAULT now(), actor uuid NOT NULL, actor_role varchar(20) NOT NULL DEFAULT '',"
            " actor_enterprise uuid NULL, what varchar(32) NOT NULL DEFAULT '', worker uuid NULL, project uuid NULL,"
            " detail varchar(64) NOT NULL DEFAULT '', client_ip varchar(64) NOT NULL DEFAULT '')")
        await _Raw.raw("CREATE INDEX pii_reads_at ON pii_reads (at)")
        await _Raw.raw("CREATE INDEX pii_reads_actor ON pii_reads (actor)")
        await _Raw.raw("CREATE INDEX pii_reads_worker ON pii_reads (worker)")
        await _Raw.raw("ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0")
        await _Raw.raw("ALTER TABLE webhooks ADD COLUMN districts integer[] NOT NULL DEFAULT ARRAY[]::integer[]")
        await _Raw.raw("ALTER TABLE cameras ADD COLUMN url_credentials varchar(1000) NOT NULL DEFAULT ''")

    async def down():
        await _Raw.raw("ALTER TABLE cameras DROP COLUMN url_credentials")
        await _Raw.raw("ALTER TABLE webhooks DROP COLUMN districts")
        await _Raw.raw("ALTER TABLE users DROP COLUMN token_version")
        await _Raw.raw("DROP TABLE pii_reads")

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
