"""Notifications (通知): notify(), the inbox, subscription quotas, receipts and webhooks — rules, no HTTP.

notify() writes one notification per recipient with its receipts and their outbox rows (backend/outbox/)
in the caller's transaction (the inbox copy is the always-written channel): the pushes exist if and only
if the change that caused them commits, and a worker delivers them after that commit. The same dedup key
never creates a second notification for the same recipient, so a retried caller pushes nothing twice.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.access.addresses import check_outbound_url, strip_credentials
from backend.accounts.tables import User
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, NotFound
from backend.notifications import webhook_scope
from backend.notifications.delivery import seal_secret
from backend.notifications.schemas import (
    InboxItem,
    InboxPage,
    NotificationReceipts,
    Receipt,
    SubscriptionOut,
    SubscriptionReport,
    Urgency,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookOut,
)
from backend.notifications.tables import (
    Delivery,
    Notification,
    Subscription,
    Webhook,
    WebhookDelivery,
    WechatBinding,
)
from backend.notifications.templates import (
    TEMPLATES,
    UnknownTemplate,
    get_template,
    render,
    wechat_template_id,
)
from backend.outbox import service as outbox
from backend.settings import Settings, get_settings

log = structlog.get_logger("zhijian.notifications")


@dataclass(frozen=True, slots=True)
class NotifyResult:
    notification_ids: list[UUID]
    wechat_pending: list[UUID]
    webhook_pending: list[UUID]
    duplicates: int


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


async def notify(
    recipients: Sequence[UUID],
    template: str,
    data: dict[str, Any],
    dedup_key: str,
    urgency: Urgency = Urgency.NORMAL,
    *,
    settings: Settings,
    arq: ArqRedis | None,
    subject: tuple[str, str] = ("", ""),
    webhooks: bool = True,
) -> NotifyResult:
    """Store a notification per recipient (inbox always) and its WeChat push and webhooks as outbox rows.

    Call it inside the transaction that makes the change it reports. ``arq`` is no longer used (kept so
    callers need not change): nothing is handed to Redis, the outbox dispatcher delivers after commit.
    """
    try:
        tpl = get_template(template)
    except UnknownTemplate as exc:
        raise BadRequest("TEMPLATE_UNKNOWN", detail={"template": template}) from exc
    if not dedup_key or len(dedup_key) > 200:
        raise BadRequest("VALIDATION_ERROR", detail="dedup_key must be 1..200 characters")
    people = list(dict.fromkeys(recipients))
    subject_type, subject_id = subject
    now = utcnow()
    title, body, page, wechat_data = render(tpl, data, subject_id, now)
    wechat_pending: list[UUID] = []
    webhook_pending: list[UUID] = []
    created: list[UUID] = []
    async with Notification._meta.db.transaction():
        if people:
            rows = await Notification.raw(
                "INSERT INTO notifications (id, recipient, template, title, body, data, page, urgency, dedup_key,"
                " subject_type, subject_id, created_at)"
                " SELECT gen_random_uuid(), r, {}, {}, {}, {}::jsonb, {}, {}, {}, {}, {}, {} FROM unnest({}::uuid[]) AS r"
                " ON CONFLICT (recipient, dedup_key) DO NOTHING RETURNING id, recipient",
                template, title, body, json.dumps(wechat_data, ensure_ascii=False), page, urgency.value,
                dedup_key, subject_type, subject_id, now, people,
            )
            created = [r["id"] for r in rows]
            if rows:
                wechat_pending = await _create_receipts(rows, now)
        if webhooks:
            webhook_pending = await _queue_webhooks(template, dedup_key, subject, data, now)
        await outbox.enqueue("wechat", wechat_pending)
        await outbox.enqueue("webhook", webhook_pending)
    return NotifyResult(created, wechat_pending, webhook_pending, duplicates=len(people) - len(created))


async def _create_receipts(rows: list[dict[str, Any]], now: Any) -> list[UUID]:
    """Inbox receipt 'sent' for everyone; WeChat 'pending' only for a usable binding, else 'skipped'."""
    users = await User.raw(
        "SELECT u.id, u.openid, b.id IS NOT NULL AS invalid FROM users u"
        " LEFT JOIN wechat_bindings b ON b.user = u.id AND b.openid = u.openid WHERE u.id = ANY({}::uuid[])",
        [r["recipient"] for r in rows],
    )
    by_id = {u["id"]: u for u in users}
    notif_ids, channels, statuses, reasons, finished = [], [], [], [], []
    for row in rows:
        user = by_id.get(row["recipient"]) or {"openid": None, "invalid": False}
        notif_ids.append(row["id"]); channels.append("inbox"); statuses.append("sent"); reasons.append(""); finished.append(now)
        if user["openid"] is None:
            status, reason = "skipped", "no_wechat_binding"
        elif user["invalid"]:
            status, reason = "skipped", "wechat_binding_invalid"
        else:
            status, reason = "pending", ""
        notif_ids.append(row["id"]); channels.append("wechat"); statuses.append(status); reasons.append(reason)
        finished.append(None if status == "pending" else now)
    inserted = await Delivery.raw(
        "INSERT INTO notification_deliveries (id, notification, channel, status, reason, created_at, updated_at, finished_at)"
        " SELECT gen_random_uuid(), n, c, s, r, {}, {}, f"
        " FROM unnest({}::uuid[], {}::text[], {}::text[], {}::text[], {}::timestamptz[]) AS t(n, c, s, r, f)"
        " RETURNING id, channel, status",
        now, now, notif_ids, channels, statuses, reasons, finished,
    )
    return [d["id"] for d in inserted if d["channel"] == "wechat" and d["status"] == "pending"]


async def _queue_webhooks(
    template: str, dedup_key: str, subject: tuple[str, str], data: dict[str, Any], now: Any
) -> list[UUID]:
    targets = await webhook_scope.targets(template, data)  # kinds and scope (backend/notifications/webhook_scope.py)
    if not targets:
        return []
    payload = json.dumps(
        {
            "event": template,
            "dedup_key": dedup_key,
            "subject": {"type": subject[0], "id": subject[1]},
            "data": _jsonable(data),
            "created_at": now.isoformat(),
        },
        ensure_ascii=False,
    )
    rows = await WebhookDelivery.raw(
        "INSERT INTO webhook_deliveries (id, webhook, dedup_key, template, payload, status, created_at, updated_at)"
        " SELECT gen_random_uuid(), w, {}, {}, {}::jsonb, 'pending', {}, {} FROM unnest({}::uuid[]) AS w"
        " ON CONFLICT (webhook, dedup_key) DO NOTHING RETURNING id",
        dedup_key, template, payload, now, now, targets,
    )
    return [r["id"] for r in rows]


# --- inbox ---------------------------------------------------------------------------------------


def _inbox_item(row: dict[str, Any]) -> InboxItem:
    return InboxItem(
        id=row["id"],
        template=row["template"],
        title=row["title"],
        body=row["body"],
        page=row["page"],
        urgency=Urgency(row["urgency"]),
        subject_type=row["subject_type"],
        subject_id=row["subject_id"],
        created_at=row["created_at"],
        read_at=row["read_at"],
    )


async def unread_count(user_id: UUID) -> int:
    return await Notification.count().where((Notification.recipient == user_id) & Notification.read_at.is_null())


async def inbox(user_id: UUID, *, unread_only: bool, limit: int, offset: int) -> InboxPage:
    """The user's own notifications, newest first."""
    where = Notification.recipient == user_id
    if unread_only:
        where = where & Notification.read_at.is_null()
    rows = (
        await Notification.select(*Notification.all_columns(exclude=[Notification.data]))
        .where(where)
        .order_by(Notification.created_at, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    total = await Notification.count().where(where)
    return InboxPage(
        total=total, unread=await unread_count(user_id), limit=limit, offset=offset, items=[_inbox_item(r) for r in rows]
    )


async def mark_read(actor: Principal, notification_id: UUID) -> InboxItem:
    """Mark one of the user's own notifications read (idempotent); others' are refused (own_notification)."""
    row = await Notification.select(Notification.recipient).where(Notification.id == notification_id).first()
    if row is None:
        raise NotFound("NOTIFICATION_NOT_FOUND")
    access_policy.require(actor, "own_notification", row)
    await Notification.update({Notification.read_at: utcnow()}).where(
        (Notification.id == notification_id) & Notification.read_at.is_null()
    )
    full = await Notification.select(*Notification.all_columns(exclude=[Notification.data])).where(
        Notification.id == notification_id
    ).first()
    return _inbox_item(full)


async def mark_all_read(user_id: UUID) -> int:
    rows = await Notification.update({Notification.read_at: utcnow()}).where(
        (Notification.recipient == user_id) & Notification.read_at.is_null()
    ).returning(Notification.id)
    return len(rows)


# --- subscriptions (wx.requestSubscribeMessage) --------------------------------------------------


def _template_key_by_id(settings: Settings) -> dict[str, str]:
    return {wechat_template_id(settings, t): t.key for t in TEMPLATES.values()}


async def subscriptions(settings: Settings, user_id: UUID) -> list[SubscriptionOut]:
    keys = _template_key_by_id(settings)
    rows = await Subscription.select().where(Subscription.user == user_id).order_by(Subscription.template_id)
    return [
        SubscriptionOut(
            template_id=r["template_id"],
            template_key=keys.get(r["template_id"]),
            kind=r["kind"],
            status=r["status"],
            remaining=r["remaining"],
        )
        for r in rows
    ]


async def report_subscriptions(settings: Settings, user_id: UUID, report: SubscriptionReport) -> list[SubscriptionOut]:
    """Each 'accept' of a one-time template allows one more message; 'ban' stops them all."""
    known = _template_key_by_id(settings)
    unknown = sorted(set(report.results) - set(known))
    if unknown:
        raise BadRequest("TEMPLATE_UNKNOWN", detail={"template_ids": unknown})
    now = utcnow()
    async with Subscription._meta.db.transaction():
        for template_id, result in report.results.items():
            accepted = 1 if result == "accept" else 0
            await Subscription.raw(
                "INSERT INTO wechat_subscriptions (\"user\", template_id, kind, remaining, status, updated_at)"
                " VALUES ({}, {}, {}, {}, {}, {})"
                " ON CONFLICT (\"user\", template_id) DO UPDATE SET"
                " kind = EXCLUDED.kind, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,"
                " remaining = CASE WHEN EXCLUDED.status = 'ban' THEN 0"
                "  ELSE wechat_subscriptions.remaining + EXCLUDED.remaining END",
                user_id, template_id, report.kind, accepted, "accept" if result == "filter" else result, now,
            )
    return await subscriptions(settings, user_id)


# --- receipts -----------------------------------------------------------------------------------


async def receipts(actor: Principal, notification_id: UUID) -> NotificationReceipts:
    """Delivery receipts of a notification: its recipient or a city-wide admin may look."""
    row = await Notification.select().where(Notification.id == notification_id).first()
    if row is None:
        raise NotFound("NOTIFICATION_NOT_FOUND")
    access_policy.require(actor, "read_receipts", row)
    deliveries = await Delivery.select().where(Delivery.notification == notification_id).order_by(Delivery.channel)
    return NotificationReceipts(
        id=row["id"],
        recipient=row["recipient"],
        template=row["template"],
        dedup_key=row["dedup_key"],
        created_at=row["created_at"],
        receipts=[
            Receipt(
                channel=d["channel"],
                status=d["status"],
                attempts=d["attempts"],
                last_errcode=d["last_errcode"],
                reason=d["reason"],
                external_id=d["external_id"],
                finished_at=d["finished_at"],
                push_status=d["push_status"],
                push_errcode=d["push_errcode"],
                push_at=d["push_at"],
            )
            for d in deliveries
        ],
    )


async def clear_invalid_binding(user_id: UUID) -> None:
    """A fresh sign-in proves the openid again."""
    await WechatBinding.delete().where(WechatBinding.user == user_id)


# --- webhooks -----------------------------------------------------------------------------------


def _webhook_out(row: dict[str, Any]) -> WebhookOut:
    return WebhookOut(
        id=row["id"],
        name=row["name"],
        department=row["department"],
        url=strip_credentials(row["url"]),  # credentials in a URL are never shown back
        templates=list(row["templates"]),
        districts=list(row.get("districts") or []),
        active=row["active"],
        created_at=row["created_at"],
    )


async def create_webhook(actor: Principal, data: WebhookCreate) -> WebhookCreated:
    access_policy.require(actor, "city_admin", {})
    unknown = sorted(set(data.templates) - set(TEMPLATES))
    if unknown:
        raise BadRequest("TEMPLATE_UNKNOWN", detail={"templates": unknown})
    check_outbound_url(data.url, get_settings().OUTBOUND_ALLOW, schemes=("http", "https"))
    secret = secrets.token_hex(32)  # shown once, here; stored sealed (delivery.seal_secret), never returned again
    hook = Webhook(
        name=data.name, department=data.department, url=data.url, secret=seal_secret(get_settings(), secret),
        templates=sorted(set(data.templates)), districts=sorted(set(data.districts)), created_by=actor.id,
    )
    await hook.save()
    row = await Webhook.select().where(Webhook.id == hook.id).first()
    return WebhookCreated(secret=secret, webhook=_webhook_out(row))


async def list_webhooks(actor: Principal) -> list[WebhookOut]:
    access_policy.require(actor, "city_admin", {})
    return [_webhook_out(r) for r in await Webhook.select().order_by(Webhook.created_at)]


async def set_webhook_active(actor: Principal, webhook_id: UUID, active: bool) -> WebhookOut:
    access_policy.require(actor, "city_admin", {})
    rows = await Webhook.update({Webhook.active: active}).where(Webhook.id == webhook_id).returning(*Webhook.all_columns())
    if not rows:
        raise NotFound("WEBHOOK_NOT_FOUND")
    return _webhook_out(rows[0])


async def webhook_deliveries(actor: Principal, webhook_id: UUID, limit: int, offset: int) -> list[WebhookDeliveryOut]:
    """The delivery log of one webhook, newest first."""
    access_policy.require(actor, "city_admin", {})
    rows = (
        await WebhookDelivery.select()
        .where(WebhookDelivery.webhook == webhook_id)
        .order_by(WebhookDelivery.created_at, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    return [
        WebhookDeliveryOut(
            id=r["id"], template=r["template"], dedup_key=r["dedup_key"], status=r["status"], attempts=r["attempts"],
            last_errcode=r["last_errcode"], reason=r["reason"], created_at=r["created_at"], finished_at=r["finished_at"],
        )
        for r in rows
    ]


# --- WeChat's final result of a send (subscribe_msg_sent_event) ----------------------------------


async def record_sent_event(msgid: str, status: str, errcode: int, at: Any) -> int:
    """Record a subscribe_msg_sent_event on the receipt whose WeChat msgid it names; returns rows updated.

    A send that WeChat answered without a msgid cannot be matched: its receipt keeps an empty push_status.
    """
    if not msgid:
        return 0
    rows = await Delivery.raw(
        "UPDATE notification_deliveries SET push_status = {}, push_errcode = {}, push_at = {}, updated_at = {}"
        " WHERE channel = 'wechat' AND external_id = {} RETURNING id",
        status[:32], errcode, at, at, msgid,
    )
    return len(rows)
