"""Request/response types of the credit API (regulators /api/v1/credit, departments /open/v1/credit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.materials.schemas import CreditEventOut
from backend.schema import Schema

ManualKind = Literal["serious_violation", "manual_deduction", "manual_bonus"]
Reason = Annotated[str, msgspec.Meta(min_length=4, max_length=500)]


class ManualEventIn(Schema):
    enterprise_id: UUID
    kind: ManualKind
    reason: Reason
    points: Annotated[int, msgspec.Meta(ge=-30, le=10)] | None = None
    project_id: UUID | None = None
    evidence: Annotated[str, msgspec.Meta(max_length=200)] = ""


class Restriction(Schema):
    code: str
    name: str


class ListingOut(Schema):
    id: UUID
    enterprise_id: UUID
    list_kind: str
    status: str
    reason: str
    proposed_at: datetime
    notice_ends_at: datetime
    effective_at: datetime | None
    ended_at: datetime | None
    in_force: bool = False  # restricts now: active, or appealed after taking effect and not suspended
    suspended_at: datetime | None = None  # a regulator suspended its restrictions pending the appeal
    suspension_reason: str = ""
    appeals_allowed: int = 1


class ListingEventOut(Schema):
    action: str
    from_status: str
    to_status: str
    note: str
    at: datetime


class ListingDetail(Schema):
    listing: ListingOut
    timeline: list[ListingEventOut]
    appeals: list[AppealOut]


class AppealIn(Schema):
    reason: Reason


class ReasonIn(Schema):
    reason: Reason


class PublicListing(Schema):
    """One entry of the public list (公示): the firm, the list, why and when — nothing personal."""

    id: UUID
    enterprise_name: str
    uscc: str
    list_kind: str
    list_name: str
    status: str
    status_name: str
    in_force: bool
    reason: str
    proposed_at: datetime
    notice_ends_at: datetime
    effective_at: datetime | None


class AppealDecision(Schema):
    upheld: bool
    note: Reason


class AppealOut(Schema):
    id: UUID
    listing_id: UUID
    status: str
    reason: str
    decision_note: str
    submitted_at: datetime
    decided_at: datetime | None


class HistoryPoint(Schema):
    score: float
    previous: float | None
    band: str
    cause: str
    at: datetime


class CreditStatus(Schema):
    """What a department needs: the score band, list membership, restrictions and since when."""

    uscc: str
    name: str
    score: float
    band: str
    lists: list[ListingOut]
    black_listed: bool
    red_listed: bool
    restrictions: list[Restriction]
    restricted_since: datetime | None
    score_updated_at: datetime | None


class EnterpriseCredit(Schema):
    status: CreditStatus
    history: list[HistoryPoint]
    events: list[CreditEventOut]


class BulkCheckIn(Schema):
    codes: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=32)]], msgspec.Meta(min_length=1, max_length=100)]


class BulkItem(Schema):
    uscc: str
    found: bool
    status: CreditStatus | None = None


class BulkCheckOut(Schema):
    items: list[BulkItem]


class AuditOut(Schema):
    actor_kind: str
    actor_id: UUID | None
    actor_name: str
    action: str
    enterprise_id: UUID | None
    detail: dict
    at: datetime


class ConsoleTicket(Schema):
    ticket: str
    url: str
    expires_in: int
