"""Request and response types of media."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from backend.schema import Schema


class Purpose(StrEnum):
    COMPLAINT = "complaint"  # 投诉照片
    COMPLAINT_RESULT = "complaint_result"  # 处理后照片
    SELFIE = "selfie"  # 打卡自拍
    FACE = "face"  # 实名人脸照
    SPOT_CHECK = "spot_check"  # 抽查照片
    INSPECTION = "inspection"  # 工序报验照片 (请求与答复)
    EVIDENCE = "evidence"  # 其他证据


class MediaOut(Schema):
    id: UUID
    purpose: Purpose
    status: str
    width: int
    height: int
    bytes: int
    sha256: str
    reject_reason: str
    created_at: datetime


class PresignRequest(Schema):
    purpose: Purpose
    content_type: Annotated[str, msgspec.Meta(pattern=r"^image/(jpeg|png|webp)$")] = "image/jpeg"


class PresignOut(Schema):
    media: MediaOut
    upload_url: str
    method: str
    expires_in: int
    max_bytes: int


class MediaUrl(Schema):
    id: UUID
    url: str
    thumbnail_url: str
    expires_in: int
