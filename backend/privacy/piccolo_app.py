"""Piccolo app 'privacy': retention runs, migrations under migrations/privacy/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.privacy.tables import Consent, PrivacyRequest, PrivacyRequestEvent, RetentionRun

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "privacy"

APP_CONFIG = AppConfig(
    app_name="privacy",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[RetentionRun, Consent, PrivacyRequest, PrivacyRequestEvent],
    migration_dependencies=["backend.workforce.piccolo_app", "backend.complaints.piccolo_app",
                            "backend.media.piccolo_app", "backend.content_security.piccolo_app"],
    commands=[],
)
