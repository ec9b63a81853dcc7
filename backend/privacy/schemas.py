"""Privacy schemas (issue 23): notices and consents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
