"""Piccolo app 'accounts': its tables, migrations under migrations/accounts/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.accounts.tables import ApiKey, BindCode, RefreshToken, User

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "accounts"

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[User, RefreshToken, BindCode, ApiKey],
    migration_dependencies=[f"backend.{dep}.piccolo_app" for dep in ["districts", "enterprises"]],
    commands=[],
)
