"""Piccolo app 'notifications': its tables, migrations under migrations/notifications/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.notifications.tables import (
    Delivery,
    DeliveryAttempt,
    Escalation,
    Notification,
    Subscription,
    Webhook,
    WebhookDelivery,
    WechatBinding,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "notifications"

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[
        Notification,
        Delivery,
        DeliveryAttempt,
        Subscription,
        WechatBinding,
        Webhook,
        WebhookDelivery,
        Escalation,
    ],
    migration_dependencies=["backend.accounts.piccolo_app"],
    commands=[],
)
