"""Piccolo app 'cameras': its tables, migrations under migrations/cameras/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.cameras.tables import Camera, CameraAlert, CameraFrame, CameraLabel

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "cameras"

APP_CONFIG = AppConfig(
    app_name="cameras",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Camera, CameraFrame, CameraAlert, CameraLabel],
    migration_dependencies=["backend.projects.piccolo_app", "backend.accounts.piccolo_app"],
    commands=[],
)
