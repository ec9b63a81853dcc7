from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T10:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "access: NOTIFY token_versions when a user's sessions end (version, active flag or role changed)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="access", description=DESCRIPTION)

    async def run():
        # Every path that ends sessions changes one of these columns (the API, piccolo-admin, raw SQL, an operator
        # in psql): the trigger tells every API process at commit, and each drops its cached copy of the version.
        await RawTable.raw(
            "CREATE OR REPLACE FUNCTION users_token_version_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM pg_notify('token_versions', NEW.id::text); RETURN NEW; END $$"
        )
        await RawTable.raw(
            "CREATE TRIGGER users_token_version_notify AFTER UPDATE OF token_version, is_active, role, district,"
            " enterprise ON users FOR EACH ROW WHEN (OLD.token_version IS DISTINCT FROM NEW.token_version"
            " OR OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.role IS DISTINCT FROM NEW.role"
            " OR OLD.district IS DISTINCT FROM NEW.district OR OLD.enterprise IS DISTINCT FROM NEW.enterprise)"
            " EXECUTE FUNCTION users_token_version_notify()"
        )
        await RawTable.raw(
            "CREATE OR REPLACE FUNCTION users_token_version_notify_old() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM pg_notify('token_versions', OLD.id::text); RETURN OLD; END $$"
        )
        await RawTable.raw(
            "CREATE TRIGGER users_token_version_notify_delete AFTER DELETE ON users FOR EACH ROW"
            " EXECUTE FUNCTION users_token_version_notify_old()"
        )

    async def run_backwards():
        await RawTable.raw("DROP TRIGGER IF EXISTS users_token_version_notify ON users")
        await RawTable.raw("DROP TRIGGER IF EXISTS users_token_version_notify_delete ON users")
        await RawTable.raw("DROP FUNCTION IF EXISTS users_token_version_notify()")
        await RawTable.raw("DROP FUNCTION IF EXISTS users_token_version_notify_old()")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
