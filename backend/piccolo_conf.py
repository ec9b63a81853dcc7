"""Piccolo's configuration: the engine from ZHIJIAN_DATABASE_URL and the apps in migration order."""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from backend.settings import get_settings

DB = PostgresEngine(config={"dsn": get_settings().DATABASE_URL})

# Order matters only for readability; cross-app order is declared by migration_dependencies.
APP_NAMES = ["districts", "enterprises", "accounts", "projects", "notifications", "media", "complaints", "materials", "workforce", "monitoring", "credit", "cameras", "outbox", "timers"]
APP_NAMES += ["content_security"]  # issue 16: WeChat content security
APP_NAMES += ["lifecycle"]  # issue 20: stages and inspection requests
APP_NAMES += ["access"]  # issue 17: PII read audit, token versions
APP_NAMES += ["privacy"]  # issue 23: retention runs, consent, requests

APP_REGISTRY = AppRegistry(apps=[f"backend.{name}.piccolo_app" for name in APP_NAMES])
