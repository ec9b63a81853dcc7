"""Piccolo app 'projects': its tables, migrations under migrations/projects/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.projects.tables import Project, ProjectLead, ProjectParty

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "projects"

APP_CONFIG = AppConfig(
    app_name="projects",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Project, ProjectParty, ProjectLead],
    migration_dependencies=[f"backend.{dep}.piccolo_app" for dep in ["districts", "enterprises", "accounts"]],
    commands=[],
)
