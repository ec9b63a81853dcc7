"""Request and response types of notifications: inbox, subscriptions, receipts, webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from backend.schema import Schema


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class InboxItem(Schema):
    id: UUID
    template: str
    title: str
    body: str
    page: str
    urgency: Urgency
    subject_type: str
    subject_id: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(Schema):
    total: int
    unread: int
    limit: int
    offset: int
    items: list[InboxItem]


class UnreadCount(Schema):
    unread: int


SubscribeResult = Annotated[str, msgspec.Meta(pattern=r"^(accept|reject|ban|filter)$")]


class SubscriptionReport(Schema):
    """The result object of wx.requestSubscribeMessage, template id → accept / reject / ban / filter."""

    results: Annotated[dict[str, SubscribeResult], msgspec.Meta(min_length=1, max_length=20)]
    kind: Annotated[str, msgspec.Meta(pattern=r"^(one_time|long_term)$")] = "one_time"


class SubscriptionOut(Schema):
    template_id: str
    template_key: str | None
    kind: str
    status: str
    remaining: int


class Receipt(Schema):
    channel: str
    status: str
    attempts: int
    last_errcode: int | None
    reason: str
    external_id: str
    finished_at: datetime | None
    push_status: str = ""  # WeChat's subscribe_msg_sent_event: success | fail: user refuse | fail: system error
    push_errcode: int | None = None
    push_at: datetime | None = None


class NotificationReceipts(Schema):
    id: UUID
    recipient: UUID
    template: str
    dedup_key: str
    created_at: datetime
    receipts: list[Receipt]


class WebhookCreate(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    department: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=500, pattern=r"^https?://")]
    templates: Annotated[list[str], msgspec.Meta(min_length=1, max_length=20)]  # event kinds: never "everything"
    districts: Annotated[list[int], msgspec.Meta(max_length=20)] = []  # scope; empty: city-wide


class WebhookOut(Schema):
    id: UUID
    name: str
    department: str
    url: str
    templates: list[str]
    districts: list[int]
    active: bool
    created_at: datetime


class WebhookCreated(Schema):
    secret: str
    webhook: WebhookOut


class WebhookDeliveryOut(Schema):
    id: UUID
    template: str
    dedup_key: str
    status: str
    attempts: int
    last_errcode: int | None
    reason: str
    created_at: datetime
    finished_at: datetime | None
