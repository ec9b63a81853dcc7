"""Piccolo app 'complaints': its tables, migrations under migrations/complaints/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.complaints.tables import Category, Complaint, Duty, Event, Supporter, Timer

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "complaints"

APP_CONFIG = AppConfig(
    app_name="complaints",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Category, Complaint, Event, Timer, Supporter, Duty],
    migration_dependencies=[
        "backend.accounts.piccolo_app",
        "backend.districts.piccolo_app",
        "backend.projects.piccolo_app",
    ],
    commands=[],
)
