"""Privacy schemas (issue 23): notices and consents, people's requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.schema import Schema


class NoticeOut(Schema):
    item: str  # general | location | face
    version: str
    title: str
    text: str
    sensitive: bool  # a separate, specific consent (PIPL 第29条)
    accepted_version: str | None  # the latest version this user accepted (None: never)
    accepted_at: datetime | None
    current: bool  # the user accepted the current version


class NoticesOut(Schema):
    notices: list[NoticeOut]
    required: dict[str, list[str]]  # action → the items it needs: {"complaint": [...], "clock": [...]}


class ConsentIn(Schema):
    item: Annotated[str, msgspec.Meta(max_length=16)]
    version: Annotated[str, msgspec.Meta(max_length=16)]


class ConsentOut(Schema):
    item: str
    version: str
    accepted_at: datetime


class CorrectionIn(Schema):
    field: Annotated[str, msgspec.Meta(max_length=32)]  # a key of rights.CORRECTABLE
    requested_change: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ClosureIn(Schema):
    """Closing an account cannot be undone: the mini-program asks, and sends the person's explicit yes."""

    confirm: Literal[True]


class AnswerIn(Schema):
    decision: Literal["done", "rejected"]
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]  # what was corrected, or why not
    # With "done" on a request about a field the person owns (display_name, phone): the corrected value, applied
    # to the account by the system in the same transaction (the trail records who applied it). Else left out.
    corrected_value: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class PrivacyRequestEventOut(Schema):
    kind: str
    from_status: str
    to_status: str
    actor_id: UUID | None
    note: str
    at: datetime


class PrivacyRequestOut(Schema):
    id: UUID
    kind: str  # access | correction | closure
    status: str  # open | answered | rejected
    district_adcode: int | None
    field: str
    requested_change: str
    answer: str
    created_at: datetime
    due_at: datetime
    answered_at: datetime | None
    late: bool
    events: list[PrivacyRequestEventOut]


class KeptItem(Schema):
    what: str
    why: str
    until: str


class ClosureOut(Schema):
    request_id: UUID
    deleted: dict[str, int]  # what was deleted or anonymised, by kind
    kept: list[KeptItem]  # what the law keeps, why and how long
