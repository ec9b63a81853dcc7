from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-12-02T17:17:13:802604"
VERSION = "1.38.0"
DESCRIPTION = "index workers.user: the clock-in finds the caller's worker by it"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="workforce", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Worker",
        tablename="workers",
        column_name="user",
        db_column_name="user",
        params={"index": True},
        old_params={"index": False},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
