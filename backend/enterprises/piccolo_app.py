"""Piccolo app 'enterprises': its tables, migrations under migrations/enterprises/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.enterprises.tables import Enterprise

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "enterprises"

APP_CONFIG = AppConfig(
    app_name="enterprises",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Enterprise],
    migration_dependencies=[f"backend.{dep}.piccolo_app" for dep in ["districts"]],
    commands=[],
)
