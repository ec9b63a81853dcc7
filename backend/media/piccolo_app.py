"""Piccolo app 'media': its tables, migrations under migrations/media/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.media.tables import Media

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "media"

APP_CONFIG = AppConfig(
    app_name="media",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Media],
    migration_dependencies=["backend.accounts.piccolo_app"],
    commands=[],
)
