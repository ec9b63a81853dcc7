"""Piccolo app 'workforce': its tables, migrations under migrations/workforce/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.workforce.tables import (
    Clock,
    ClockReviewEvent,
    Payroll,
    PayrollCorrection,
    PayrollDay,
    PayrollEvent,
    PayrollLine,
    ProjectWorker,
    QualityHold,
    QualityHoldEvent,
    SpotCheck,
    Team,
    Worker,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "workforce"

APP_CONFIG = AppConfig(
    app_name="workforce",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[Worker, SpotCheck, QualityHold, QualityHoldEvent, Team, ProjectWorker, Clock, Payroll, PayrollLine, PayrollEvent, PayrollCorrection,
                   ClockReviewEvent, PayrollDay],
    migration_dependencies=["backend.projects.piccolo_app", "backend.accounts.piccolo_app", "backend.enterprises.piccolo_app"],
    commands=[],
)
