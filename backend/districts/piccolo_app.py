"""Piccolo app 'districts': its tables, migrations under migrations/districts/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.districts.tables import District, Station

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "districts"

APP_CONFIG = AppConfig(
    app_name="districts",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[District, Station],
    migration_dependencies=[f"backend.{dep}.piccolo_app" for dep in []],
    commands=[],
)
