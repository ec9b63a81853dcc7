"""Request and response types of spot checks and quality holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
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


class LiftRequestIn(Schema):
    note: Annotated[str, msgspec.Meta(min_length=2, max_length=500)]  # what was put right (整改情况)


class HoldEventOut(Schema):
    action: str  # placed | notified | workers_told | reinspection_passed | lift_requested | refused | lifted | payroll_*
    actor_id: UUID | None
    detail: dict[str, Any]
    at: datetime


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
    id_region_known: bool  # False: the ID's region code is not in GB/T 2260 for the birth year (accepted, noted)
    has_face_photo: bool
    created_at: datetime


class WorkerPii(Schema):
    id: UUID
    id_number: str
    phone: str
    bank_card: str


class StintIn(Schema):
    project_id: UUID
    worker_id: UUID
    enterprise_id: UUID  # the employing labour subcontractor (a party of the project)
    trade: Annotated[str, msgspec.Meta(max_length=32)] = ""
    daily_rate_fen: Annotated[int, msgspec.Meta(ge=0)] = 0
    team_id: UUID | None = None  # a team (班组) of that subcontractor on the project


class StintOut(Schema):
    id: UUID
    project_id: UUID
    worker_id: UUID
    enterprise_id: UUID
    trade: str
    daily_rate_fen: int
    entered_at: datetime
    exited_at: datetime | None
    entered_by: UUID | None
    exited_by: UUID | None
    team_id: UUID | None = None


class LinkIn(Schema):
    id_number: Annotated[str, msgspec.Meta(min_length=15, max_length=18)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    phone: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    bind_code: Annotated[str, msgspec.Meta(max_length=16)] = ""  # the one-time code the employer gave the worker


class BindCodeOut(Schema):
    worker_id: UUID
    code: str  # shown once: the employer hands it to the worker
    expires_at: datetime


class LinkOut(Schema):
    worker_id: UUID
    access_token: str
    refresh_token: str


class ClockIn(Schema):
    kind: Literal["in", "out"]
    project_id: UUID
    lng: float
    lat: float
    at: datetime  # the phone's time (offline clocks send their original time)
    coord_type: str = "wgs84"  # wx.getLocation's default; converted to GCJ-02
    accuracy_m: Annotated[float, msgspec.Meta(ge=0.0, le=10000.0)] = 0.0
    device_id: Annotated[str, msgspec.Meta(max_length=128)] = ""
    selfie_media_id: UUID | None = None  # required: SELFIE_REQUIRED without it
    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # The same moment's reading in the other coordinate type (wx.getLocation asked once more): a label that
    # contradicts it is flagged coord_mismatch.
    alt_lng: float | None = None
    alt_lat: float | None = None


class ClockOut(Schema):
    id: UUID
    worker_id: UUID
    project_id: UUID
    kind: str
    at: datetime
    received_at: datetime
    lng: float
    lat: float
    accuracy_m: float
    fence_distance_m: float
    offline: bool
    selfie_media_id: UUID | None
    declared_coord_type: str  # the label the phone sent its reading with
    flags: list[str]  # why it waits for review: offline, outside_tolerance, before_entry, selfie_reused, coord_*
    review_status: str  # none | pending | accepted | rejected; pending and rejected clocks are not paid
    review_reason: str = ""
    coord_type: str = "gcj02"  # lng/lat above are GCJ-02 (converted from the declared type)


class ClockReviewIn(Schema):
    accept: bool
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class TeamIn(Schema):
    project_id: UUID
    enterprise_id: UUID  # the labour subcontractor (or the GC) the team belongs to
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    leader_worker_id: UUID | None = None


class TeamUpdate(Schema):
    """Rename, change or clear the leader, or disband (班组解散); omitted fields stay as they are."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    leader_worker_id: UUID | None = None
    clear_leader: bool = False
    disband: bool = False


class TeamOut(Schema):
    id: UUID
    project_id: UUID
    enterprise_id: UUID
    name: str
    leader_worker_id: UUID | None
    leader_name: str
    members: int  # workers on the roster (open stints) in this team
    created_at: datetime
    disbanded_at: datetime | None


class StintTeamIn(Schema):
    team_id: UUID | None  # None takes the worker out of any team
