"""notification_deliveries.quota_taken (issue 16): the receipt holds one of the user's subscription acceptances.

Acceptances are now taken for a claimed batch in one statement, before its calls; the flag tells a worker that
takes over a receipt left 'sending' (its first worker killed) that the acceptance is already spent for it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification_deliveries.quota_taken"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Delivery",
        tablename="notification_deliveries",
        column_name="quota_taken",
        db_column_name="quota_taken",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
