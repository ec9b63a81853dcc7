"""Piccolo app 'content_security': its tables, migrations under migrations/content_security/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.content_security.tables import ContentCheck, ContentCheckEvent

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "content_security"

APP_CONFIG = AppConfig(
    app_name="content_security",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[ContentCheck, ContentCheckEvent],
    migration_dependencies=["backend.accounts.piccolo_app", "backend.notifications.piccolo_app"],
    commands=[],
)
