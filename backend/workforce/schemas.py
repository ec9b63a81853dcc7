"""Request and response types of spot checks and quality holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from backend.schema import Schema


class CheckItem(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    passed: bool
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SpotCheckIn(Schema):
    project_id: UUID
    items: Annotated[list[CheckItem], msgspec.Meta(min_length=1, max_length=50)]
    responsible_ids: Annotated[list[UUID], msgspec.Meta(max_length=10)] = []
    photo_ids: Annotated[list[UUID], msgspec.Meta(max_length=9)] = []
    batch_ids: Annotated[list[UUID], msgspec.Meta(max_length=20)] = []
    reinspection_of: UUID | None = None
    checked_at: datetime | None = None
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class SpotCheckOut(Schema):
    id: UUID
    project_id: UUID
    inspector_id: UUID
    checked_at: datetime
    passed: bool
    items: list[CheckItem]
    responsible_ids: list[UUID]
    batch_ids: list[UUID]
    reinspection_of: UUID | None
    notes: str
    holds_started: list[UUID]


class HoldOut(Schema):
    id: UUID
    project_id: UUID
    enterprise_id: UUID
    enterprise_name: str
    status: str
    evidence: list[UUID]
    started_at: datetime
    lifted_at: datetime | None
    lift_reason: str


class LiftIn(Schema):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=500)]


class WorkerCreate(Schema):
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=32)]
    id_number: Annotated[str, msgspec.Meta(min_length=15, max_length=20)]
    employer_id: UUID
    phone: Annotated[str, msgspec.Meta(pattern=r"^1\d{10}$")] | None = None
    bank_card: Annotated[str, msgspec.Meta(pattern=r"^\d{12,19}$")] | None = None
    trade: Annotated[str, msgspec.Meta(max_length=32)] = ""
    contract_signed: bool = False
    face_photo_id: UUID | None = None


class WorkerOut(Schema):
    """Always masked: the full values come only from the audited PII endpoint."""

    id: UUID
    name: str
    id_number_masked: str
    sex: str
    birth_date: str
    phone_masked: str
    bank_card_masked: str
    trade: str
    employer_id: UUID
    contract_signed: bool
    has_face_photo: bool
    created_at: datetime


class WorkerPii(Schema):
    id: UUID
    id_number: str
    phone: str
    bank_card: str
