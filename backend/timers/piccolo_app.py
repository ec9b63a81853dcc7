"""Piccolo app 'timers': its table, migrations under migrations/timers/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.timers.tables import DueTimer

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "timers"

APP_CONFIG = AppConfig(
    app_name="timers",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[DueTimer],
    migration_dependencies=["backend.outbox.piccolo_app", "backend.complaints.piccolo_app"],
    commands=[],
)
