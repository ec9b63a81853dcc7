"""Delivery of pending receipts (run by the ARQ worker): WeChat subscribe messages and signed webhooks.

A receipt is claimed (status 'sending' with a lease) before the outside call, so two workers never
send the same one. WeChat's errcodes decide through backend/clients/wechat_rules.py: sent (errcode 0,
with or without a msgid); retrying with backoff (network errors, -1, 45009; HTTP 5xx/429 for webhooks);
skipped (no reported, unused wx.requestSubscribeMessage acceptance, or 43101 — the inbox copy stays);
failed (40003 marks the binding bad; 40037 / 41030 / 47003: our request is wrong; attempts exhausted).
A receipt found 'sending' after its lease expired was interrupted mid-call: its outcome is unknown,
and it is closed as failed rather than risk a duplicate push.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import structlog
from arq.connections import ArqRedis

from backend.clients import wechat_rules as rules
from backend.clients.wechat import NETWORK_ERROR, WeChatClient, WeChatError
from backend.db import utcnow
from backend.notifications.service import enqueue_delivery
from backend.notifications.tables import Delivery, WebhookDelivery
from backend.notifications.templates import get_template, wechat_template_id
from backend.settings import Settings

log = structlog.get_logger("zhijian.notifications.delivery")

LEASE = timedelta(seconds=60)


@dataclass(slots=True)
class Outcome:
    id: UUID
    attempt: int
    status: str  # sent | retrying | failed | skipped
    errcode: int | None = None
    reason: str = ""
    external_id: str = ""
    next_attempt_at: datetime | None = None


def backoff(settings: Settings, attempt: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped at 5 minutes."""
    return timedelta(seconds=min(settings.NOTIFY_RETRY_BASE_S * (2 ** (attempt - 1)), 300.0))


def _retry_or_fail(settings: Settings, oid: UUID, attempt: int, errcode: int | None, reason: str, now: datetime) -> Outcome:
    if attempt >= settings.NOTIFY_MAX_ATTEMPTS:
        return Outcome(oid, attempt, "failed", errcode, f"gave up after {attempt} attempts: {reason}"[:200])
    return Outcome(oid, attempt, "retrying", errcode, reason[:200], next_attempt_at=now + backoff(settings, attempt))


async def _record(table: type, channel: str, outcomes: list[Outcome], now: datetime) -> None:
    """Write every outcome onto its receipt and into the attempt log, two statements for the batch."""
    if not outcomes:
        return
    # One transaction: a worker killed between the two statements must not leave a receipt whose
    # attempt is missing from the log (seen in tests/notifications/test_worker_e2e.py).
    async with table._meta.db.transaction():
        await _record_in_transaction(table, channel, outcomes, now)


async def _record_in_transaction(table: type, channel: str, outcomes: list[Outcome], now: datetime) -> None:
    finished = [None if o.status == "retrying" else now for o in outcomes]
    await table.raw(
        f"UPDATE {table._meta.tablename} d SET status = t.s, last_errcode = t.e, reason = t.r,"
        " next_attempt_at = t.n, finished_at = t.f, lease_until = NULL, updated_at = {}"
        + (", external_id = t.x" if table is Delivery else "")
        + " FROM unnest({}::uuid[], {}::text[], {}::int[], {}::text[], {}::timestamptz[], {}::timestamptz[], {}::text[])"
        " AS t(i, s, e, r, n, f, x) WHERE d.id = t.i",
        now,
        [o.id for o in outcomes],
        [o.status for o in outcomes],
        [o.errcode for o in outcomes],
        [o.reason for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        finished,
        [o.external_id for o in outcomes],
    )
    await table.raw(
        "INSERT INTO notification_attempts (delivery_id, channel, attempt, outcome, errcode, detail, at)"
        " SELECT i, {}, a, s, e, r, {} FROM unnest({}::uuid[], {}::int[], {}::text[], {}::int[], {}::text[])"
        " AS t(i, a, s, e, r)",
        channel,
        now,
        [o.id for o in outcomes],
        [o.attempt for o in outcomes],
        [o.status for o in outcomes],
        [o.errcode for o in outcomes],
        [o.reason[:300] for o in outcomes],
    )


async def _schedule_retries(arq: ArqRedis | None, outcomes: list[Outcome], webhook: bool) -> None:
    retry = [o for o in outcomes if o.status == "retrying"]
    if arq is None or not retry:
        return
    when = min(o.next_attempt_at for o in retry)
    ids = [o.id for o in retry]
    await enqueue_delivery(
        arq, [] if webhook else ids, ids if webhook else [], job_key=f"retry:{ids[0]}:{retry[0].attempt}", defer_until=when
    )


# --- WeChat ------------------------------------------------------------------------------------


async def _claim_wechat(ids: list[UUID], now: datetime) -> list[dict[str, Any]]:
    return await Delivery.raw(
        "UPDATE notification_deliveries d SET status = 'sending', attempts = d.attempts + 1, lease_until = {},"
        " updated_at = {}"
        " FROM notifications n JOIN users u ON u.id = n.recipient"
        " WHERE d.id = ANY({}::uuid[]) AND d.notification = n.id AND d.channel = 'wechat'"
        " AND d.status IN ('pending', 'retrying') AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {})"
        " RETURNING d.id, d.attempts, n.recipient, n.template, n.data, n.page, u.openid",
        now + LEASE, now, ids, now + timedelta(seconds=1),
    )


async def _take_quota(user_id: UUID, template_id: str) -> tuple[bool, bool]:
    """(may_send, consumed_one_time_quota) from what the user accepted in the mini-program."""
    rows = await Delivery.raw(
        "SELECT kind, remaining, status FROM wechat_subscriptions WHERE \"user\" = {} AND template_id = {}",
        user_id, template_id,
    )
    if not rows:
        return False, False  # never reported: no acceptance to spend (WeChat would answer 43101)
    sub = rows[0]
    if sub["status"] == "ban":
        return False, False
    if sub["kind"] == "long_term":
        return sub["status"] == "accept", False
    taken = await Delivery.raw(
        "UPDATE wechat_subscriptions SET remaining = remaining - 1, updated_at = now()"
        " WHERE \"user\" = {} AND template_id = {} AND remaining > 0 RETURNING remaining",
        user_id, template_id,
    )
    return bool(taken), bool(taken)


async def _give_back_quota(user_id: UUID, template_id: str) -> None:
    await Delivery.raw(
        "UPDATE wechat_subscriptions SET remaining = remaining + 1, updated_at = now()"
        " WHERE \"user\" = {} AND template_id = {} AND kind = 'one_time'",
        user_id, template_id,
    )


async def _mark_binding_bad(user_id: UUID, openid: str, errcode: int) -> None:
    await Delivery.raw(
        "INSERT INTO wechat_bindings (\"user\", openid, invalid_at, errcode) VALUES ({}, {}, now(), {})"
        " ON CONFLICT (\"user\") DO UPDATE SET openid = EXCLUDED.openid, invalid_at = now(), errcode = EXCLUDED.errcode",
        user_id, openid, errcode,
    )


async def _set_no_quota(user_id: UUID, template_id: str) -> None:
    await Delivery.raw(
        "INSERT INTO wechat_subscriptions (\"user\", template_id, kind, remaining, status, updated_at)"
        " VALUES ({}, {}, 'one_time', 0, 'accept', now())"
        " ON CONFLICT (\"user\", template_id) DO UPDATE SET remaining = 0, updated_at = now()",
        user_id, template_id,
    )


async def _send_one(settings: Settings, wechat: WeChatClient, row: dict[str, Any], now: datetime) -> Outcome:
    oid, attempt = row["id"], row["attempts"]
    template = get_template(row["template"])
    template_id = wechat_template_id(settings, template)
    if not row["openid"]:
        return Outcome(oid, attempt, "skipped", reason="no_wechat_binding")
    may_send, consumed = await _take_quota(row["recipient"], template_id)
    if not may_send:
        return Outcome(oid, attempt, "skipped", None, "no_quota: no reported, unused subscription acceptance")
    data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
    try:
        msgid = await wechat.send_subscribe_message(
            row["openid"], template_id, data, page=row["page"] or None, miniprogram_state=settings.WECHAT_MINIPROGRAM_STATE
        )
    except WeChatError as err:
        action = rules.action_for(err.errcode)
        if action is rules.Action.NO_QUOTA:
            await _set_no_quota(row["recipient"], template_id)
            return Outcome(oid, attempt, "skipped", err.errcode, "no_quota: WeChat refused (43101)")
        if consumed:
            await _give_back_quota(row["recipient"], template_id)
        if action is rules.Action.BAD_OPENID:
            await _mark_binding_bad(row["recipient"], row["openid"], err.errcode)
            return Outcome(oid, attempt, "failed", err.errcode, "invalid_openid: binding marked bad")
        # REFRESH_TOKEN here means the client's one refresh-and-retry was refused again: back off.
        if action in (rules.Action.RETRY, rules.Action.REFRESH_TOKEN):
            return _retry_or_fail(settings, oid, attempt, err.errcode, err.errmsg, now)
        return Outcome(oid, attempt, "failed", err.errcode, f"wechat refused: {err.errmsg}")
    # errcode 0 is a success with or without a msgid (the documented answer has none)
    return Outcome(oid, attempt, "sent", 0, "", "" if msgid is None else str(msgid))


async def deliver_wechat(ids: list[UUID], *, settings: Settings, wechat: WeChatClient, arq: ArqRedis | None) -> dict[str, int]:
    """Claim and send these WeChat receipts; returns counts by outcome."""
    now = utcnow()
    rows = await _claim_wechat(ids, now)
    if not rows:
        return {}
    gate = asyncio.Semaphore(settings.NOTIFY_CONCURRENCY)

    async def guarded(row: dict[str, Any]) -> Outcome:
        async with gate:
            try:
                return await _send_one(settings, wechat, row, now)
            except Exception as exc:  # noqa: BLE001 - one broken receipt must not sink the batch
                log.exception("wechat_delivery_error", delivery=str(row["id"]))
                return _retry_or_fail(settings, row["id"], row["attempts"], None, f"internal: {exc!r}", now)

    outcomes = await asyncio.gather(*(guarded(r) for r in rows))
    done = utcnow()
    await _record(Delivery, "wechat", outcomes, done)
    await _schedule_retries(arq, outcomes, webhook=False)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


# --- webhooks ----------------------------------------------------------------------------------


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex; sent as X-Zhijian-Signature: sha256=<hex>."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


async def _claim_webhooks(ids: list[UUID], now: datetime) -> list[dict[str, Any]]:
    return await WebhookDelivery.raw(
        "UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1, lease_until = {}, updated_at = {}"
        " FROM webhooks w WHERE d.id = ANY({}::uuid[]) AND d.webhook = w.id"
        " AND d.status IN ('pending', 'retrying') AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {})"
        " RETURNING d.id, d.attempts, d.template, d.payload, w.url, w.secret, w.active",
        now + LEASE, now, ids, now + timedelta(seconds=1),
    )


async def _post_webhook(settings: Settings, http: httpx.AsyncClient, row: dict[str, Any], now: datetime) -> Outcome:
    oid, attempt = row["id"], row["attempts"]
    if not row["active"]:
        return Outcome(oid, attempt, "skipped", reason="webhook_inactive")
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
    body = json.dumps({"id": str(oid), **payload}, ensure_ascii=False, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Zhijian-Event": row["template"],
        "X-Zhijian-Delivery": str(oid),
        "X-Zhijian-Timestamp": ts,
        "X-Zhijian-Signature": "sha256=" + sign_webhook(row["secret"], ts, body),
    }
    try:
        resp = await http.post(row["url"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        return _retry_or_fail(settings, oid, attempt, NETWORK_ERROR, f"network: {type(exc).__name__}", now)
    if 200 <= resp.status_code < 300:
        return Outcome(oid, attempt, "sent", resp.status_code)
    if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
        return _retry_or_fail(settings, oid, attempt, resp.status_code, f"http {resp.status_code}", now)
    return Outcome(oid, attempt, "failed", resp.status_code, f"http {resp.status_code}: refused")


async def deliver_webhooks(
    ids: list[UUID], *, settings: Settings, http: httpx.AsyncClient, arq: ArqRedis | None
) -> dict[str, int]:
    now = utcnow()
    rows = await _claim_webhooks(ids, now)
    if not rows:
        return {}
    outcomes = await asyncio.gather(*(_post_webhook(settings, http, r, now) for r in rows))
    await _record(WebhookDelivery, "webhook", outcomes, utcnow())
    await _schedule_retries(arq, outcomes, webhook=True)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


# --- reconciliation -----------------------------------------------------------------------------


async def close_interrupted(now: datetime) -> int:
    """Receipts left 'sending' past their lease: a worker died mid-call; never resend (no duplicates)."""
    closed = 0
    for table in (Delivery, WebhookDelivery):
        rows = await table.raw(
            f"UPDATE {table._meta.tablename} SET status = 'failed', finished_at = {{}}, updated_at = {{}},"
            " reason = 'interrupted: worker stopped during the call; outcome unknown, not resent', lease_until = NULL"
            " WHERE status = 'sending' AND lease_until < {} RETURNING id",
            now, now, now,
        )
        closed += len(rows)
    return closed


async def due_receipts(now: datetime, grace: timedelta, limit: int = 5000) -> tuple[list[UUID], list[UUID]]:
    """Pending or retrying receipts that should have been picked up by now (e.g. Redis lost the job)."""
    result = []
    for table in (Delivery, WebhookDelivery):
        rows = await table.raw(
            f"SELECT id FROM {table._meta.tablename} WHERE status IN ('pending', 'retrying')"
            " AND COALESCE(next_attempt_at, created_at) <= {} ORDER BY created_at LIMIT {}",
            now - grace, limit,
        )
        result.append([r["id"] for r in rows])
    return result[0], result[1]
