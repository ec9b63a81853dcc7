"""Piccolo app 'credit': scores, listings, appeals and the audit log, migrations under migrations/credit/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.credit.tables import (
    ConsoleSession,
    ConsoleUser,
    CreditAppeal,
    CreditAudit,
    CreditListing,
    CreditListingEvent,
    CreditScore,
    CreditScoreHistory,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "credit"

APP_CONFIG = AppConfig(
    app_name="credit",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[CreditScore, CreditScoreHistory, CreditListing, CreditListingEvent, CreditAppeal, CreditAudit,
                   ConsoleUser, ConsoleSession],
    migration_dependencies=["backend.enterprises.piccolo_app", "backend.materials.piccolo_app"],
    commands=[],
)
