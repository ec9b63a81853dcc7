"""Request and response types of project stages and inspection requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.lifecycle.rules import InspectionStage, InspectionStatus, Stage
from backend.schema import Schema

Note = Annotated[str, msgspec.Meta(max_length=1000)]
PhotoIds = Annotated[list[UUID], msgspec.Meta(max_length=9)]


class PermitIn(Schema):
    """施工许可证: number, date of issue, issuing authority."""

    permit_no: Annotated[str, msgspec.Meta(min_length=6, max_length=64, pattern=r"^[0-9A-Za-z\-]+$")]
    issued_on: date
    authority: Annotated[str, msgspec.Meta(min_length=2, max_length=100)]


class StageTransitionIn(Schema):
    action: str  # rules.STAGE_ACTIONS
    note: Note = ""
    permit: PermitIn | None = None  # required by "permit"


class BlockingItem(Schema):
    kind: str  # material_batch_failed | quality_hold_active | danger_alarm_open | complaint_open | inspection_open
    id: UUID
    label: str
    state: str
    link: str


class StageEventOut(Schema):
    action: str
    from_stage: str
    to_stage: str
    actor_id: UUID | None
    actor_role: str
    at: datetime
    note: str
    detail: dict[str, object]


class StageOut(Schema):
    project_id: UUID
    stage: Stage
    stage_zh: str
    next_actions: list[str]
    blocking: list[BlockingItem]  # what blocks the next gated action now (empty when none or not gated)
    events: list[StageEventOut]


class InspectionCreate(Schema):
    project_id: UUID
    stage: InspectionStage
    lot: Annotated[str, msgspec.Meta(min_length=2, max_length=100)]
    location: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    description: Note = ""
    photo_ids: PhotoIds = []


class InspectionResubmit(Schema):
    description: Note = ""
    photo_ids: PhotoIds = []


class InspectionAnswer(Schema):
    passed: bool
    findings: Note = ""
    photo_ids: PhotoIds = []


class InspectionAudit(Schema):
    uphold: bool
    note: Annotated[str, msgspec.Meta(min_length=2, max_length=1000)]


class InspectionEventOut(Schema):
    kind: str
    from_status: str
    to_status: str
    actor_id: UUID | None
    at: datetime
    note: str


class InspectionOut(Schema):
    id: UUID
    project_id: UUID
    stage: InspectionStage
    lot: str
    location: str
    description: str
    status: InspectionStatus
    previous_id: UUID | None
    submitted_by: UUID | None
    submitted_at: datetime
    due_at: datetime
    answered_by: UUID | None
    answered_at: datetime | None
    late: bool
    findings: str
    audit_verdict: str
    photo_ids: list[UUID]
    events: list[InspectionEventOut]


Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class AssessmentIn(Schema):
    enterprise_id: UUID
    project_id: UUID
    assessor: Annotated[str, msgspec.Meta(min_length=2, max_length=100)]
    period_start: date
    period_end: date
    quality_behaviour: Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
    personnel_certified_share: Share
    equipment_good_share: Share


class AssessmentOut(Schema):
    id: UUID
    enterprise_id: UUID
    project_id: UUID
    assessor: str
    period_start: date
    period_end: date
    quality_behaviour: float
    personnel_certified_share: float
    equipment_good_share: float
    composite: float
    points: int
    recorded_by: UUID | None
    recorded_at: datetime


class KeyPersonIn(Schema):
    role: Literal["project_manager", "chief_supervisor", "safety_officer", "technical_lead"]
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=32)]
    certificate_no: Annotated[str, msgspec.Meta(min_length=4, max_length=64)]
    expires_on: date


class KeyPersonnelIn(Schema):
    people: Annotated[list[KeyPersonIn], msgspec.Meta(max_length=20)]


class KeyPersonOut(Schema):
    role: str
    name: str
    certificate_no: str
    expires_on: date
    expired: bool


class KeyPersonnelOut(Schema):
    project_id: UUID
    people: list[KeyPersonOut]
    flags: list[dict[str, str]]  # {"role", "role_zh", "flag": missing | expired, "name"}


class DocumentOut(Schema):
    id: UUID
    request_id: UUID
    name: str
    content_type: str
    bytes: int
    sha256: str
    uploaded_by: UUID | None
    uploaded_at: datetime
    url: str | None = None  # short-lived download URL
