"""Request and response types of complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from backend.complaints.rules import Status
from backend.districts.schemas import Location
from backend.schema import Schema

Reason = Annotated[str, msgspec.Meta(min_length=2, max_length=500)]


class CategoryOut(Schema):
    code: str
    name: str
    description: str
    sla_hours: float


class CategoryIn(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""
    sla_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 90)] | None = None
    active: bool = True
    sort: int = 0


class ComplaintCreate(Schema):
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    description: Annotated[str, msgspec.Meta(min_length=5, max_length=2000)]
    location: Location
    photo_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=9)]
    address: Annotated[str, msgspec.Meta(max_length=200)] = ""
    project_id: UUID | None = None


class TimelineEntry(Schema):
    kind: str
    from_status: str
    to_status: str
    reason: str
    at: datetime
    actor_name: str | None = None


class PhotoOut(Schema):
    id: UUID
    url: str
    thumbnail_url: str


class ComplaintCitizenView(Schema):
    """What the citizen who reported (or joined) sees."""

    id: UUID
    number: str
    category: str
    category_name: str
    description: str
    address: str
    location: tuple[float, float]
    status: Status
    district_adcode: int | None
    station_name: str | None
    project_name: str | None
    submitted_at: datetime
    deadline_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_notes: str
    reject_reason: str
    satisfaction: int | None
    photos: list[PhotoOut]
    result_photos: list[PhotoOut]
    timeline: list[TimelineEntry]
    can_rate: bool
    can_reopen: bool
    can_confirm: bool
    coord_type: str = "gcj02"  # the system of location (issue 19: every location the API returns says it)


class ComplaintStaffView(Schema):
    id: UUID
    number: str
    category: str
    category_name: str
    description: str
    address: str
    location: tuple[float, float]
    status: Status
    district_adcode: int | None
    station_id: int | None
    project_id: UUID | None
    project_name: str | None
    assignee_id: UUID | None
    assignee_name: str | None
    citizen_name: str | None
    source: str
    supporters: int
    submitted_at: datetime
    deadline_at: datetime
    overdue: bool
    paused: bool
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_notes: str
    reject_reason: str
    satisfaction: int | None
    satisfaction_comment: str
    merged_into: UUID | None
    photos: list[PhotoOut]
    result_photos: list[PhotoOut]
    timeline: list[TimelineEntry]
    coord_type: str = "gcj02"  # the system of location (issue 19: every location the API returns says it)


class ComplaintCreated(Schema):
    """The answer to a new report (the full view is one GET away)."""

    id: UUID
    number: str
    status: Status
    district_adcode: int | None
    station_id: int | None
    submitted_at: datetime
    deadline_at: datetime


class ComplaintBrief(Schema):
    id: UUID
    number: str
    category: str
    status: Status
    district_adcode: int | None
    assignee_id: UUID | None
    submitted_at: datetime
    deadline_at: datetime
    overdue: bool
    description: str


class ComplaintPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ComplaintBrief]


class SimilarComplaint(Schema):
    id: UUID
    number: str
    status: Status
    description: str
    distance_m: float | None
    same_project: bool
    supporters: int
    submitted_at: datetime


class Rating(Schema):
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ReasonIn(Schema):
    reason: Reason


class InfoIn(Schema):
    message: Reason


class ResolveIn(Schema):
    notes: Annotated[str, msgspec.Meta(min_length=5, max_length=2000)]
    photo_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=9)]


class TransferIn(Schema):
    reason: Reason
    to_district_adcode: int | None = None
    to_inspector_id: UUID | None = None
    not_ours: bool = False  # a bounce: the case is not this station's


class MergeIn(Schema):
    into_id: UUID
    reason: Reason


class DutyIn(Schema):
    on_duty: bool
    user_id: UUID | None = None


class DashboardOut(Schema):
    period_from: datetime
    period_to: datetime
    district_adcode: int | None
    category: str | None
    total: int
    due: int
    handled_on_time: int
    on_time_handling_rate: float | None
    closed_on_time: int
    on_time_closure_rate: float | None
    rated: int
    satisfied: int
    satisfaction_rate: float | None
    resolved: int
    callback_verified: int
    callback_verification_rate: float | None
    mean_handling_hours: float | None
    p90_handling_hours: float | None
    open: int
    overdue_open: int
    by_status: dict[str, int]
    by_district: list[dict[str, Any]]
