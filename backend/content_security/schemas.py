"""Request and response types of content security."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from backend.schema import Schema


class ContentCheckOut(Schema):
    id: UUID
    kind: str  # text | media
    subject_type: str  # complaint_text | complaint_photo
    subject_id: str
    complaint_id: UUID
    district_adcode: int | None
    status: str
    suggest: str
    label: int | None
    created_at: datetime
    verdict_at: datetime | None
    reviewed_at: datetime | None


class ContentReview(Schema):
    decision: Literal["approve", "remove"]
    reason: str = msgspec.field(default="")


class ContentCheckEventOut(Schema):
    kind: str
    from_status: str
    to_status: str
    actor_id: UUID | None
    reason: str
    at: datetime
