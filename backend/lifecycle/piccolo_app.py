"""Piccolo app 'lifecycle': stage events and inspection requests, migrations under migrations/lifecycle/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.lifecycle.tables import (
    Assessment,
    InspectionDocument,
    InspectionEvent,
    InspectionRequest,
    KeyPerson,
    StageEvent,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "lifecycle"

APP_CONFIG = AppConfig(
    app_name="lifecycle",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[StageEvent, InspectionRequest, InspectionEvent, Assessment, KeyPerson, InspectionDocument],
    migration_dependencies=[f"backend.{dep}.piccolo_app" for dep in ["projects", "accounts", "media", "enterprises", "timers"]],
    commands=[],
)
