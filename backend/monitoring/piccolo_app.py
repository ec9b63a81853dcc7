"""Piccolo app 'monitoring': its tables, migrations under migrations/monitoring/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.monitoring.tables import (
    Alarm,
    AlarmEvent,
    DangerousWork,
    DeadLetter,
    MonitoringPoint,
    Reading,
    RuleStateRow,
    Sensor,
    SensorEvent,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "monitoring"

APP_CONFIG = AppConfig(
    app_name="monitoring",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[DangerousWork, MonitoringPoint, Sensor, Reading, RuleStateRow, Alarm, AlarmEvent, DeadLetter,
                   SensorEvent],
    migration_dependencies=[
        "backend.accounts.piccolo_app",
        "backend.districts.piccolo_app",
        "backend.projects.piccolo_app",
    ],
    commands=[],
)
