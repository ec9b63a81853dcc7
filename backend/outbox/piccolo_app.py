"""Piccolo app 'outbox': its table, migrations under migrations/outbox/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.outbox.tables import OutboxMessage

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "outbox"

APP_CONFIG = AppConfig(
    app_name="outbox",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[OutboxMessage],
    migration_dependencies=["backend.notifications.piccolo_app"],
    commands=[],
)
