"""Piccolo app 'materials': its tables, migrations under migrations/materials/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.materials.tables import (
    ConcreteGroup,
    ConcreteLot,
    CreditEvent,
    EntryInspection,
    LabReport,
    MaterialAlert,
    MaterialBatch,
    MaterialEvent,
    MaterialLabel,
    MaterialScan,
    Sampling,
    TransportLeg,
    UseDecision,
    UseRecord,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "materials"

APP_CONFIG = AppConfig(
    app_name="materials",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[
        MaterialBatch, MaterialEvent, MaterialLabel, MaterialScan, MaterialAlert, TransportLeg,
        EntryInspection, Sampling, LabReport, UseRecord, CreditEvent,
        UseDecision, ConcreteLot, ConcreteGroup,
    ],
    migration_dependencies=[
        "backend.accounts.piccolo_app",
        "backend.districts.piccolo_app",
        "backend.enterprises.piccolo_app",
        "backend.projects.piccolo_app",
    ],
    commands=[],
)
