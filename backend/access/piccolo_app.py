"""Piccolo app 'access': the personal-data read audit, migrations under migrations/access/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.access.tables import PiiRead

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "access"

APP_CONFIG = AppConfig(
    app_name="access",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[PiiRead],
    migration_dependencies=["backend.accounts.piccolo_app", "backend.notifications.piccolo_app",
                            "backend.cameras.piccolo_app"],
    commands=[],
)
