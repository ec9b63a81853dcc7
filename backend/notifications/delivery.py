"""Delivery of receipts (the outbox's wechat and webhook handlers): WeChat subscribe messages and signed webhooks.

The outbox row holds the lease (backend/outbox/dispatcher.py); the receipt is marked 'sending' when its
call starts and gets its outcome written the moment the call returns (grouped with the outcomes that came
back while the previous write was in flight: Recorder), so a worker killed mid-batch leaves only the calls
then in flight unrecorded. The batch's subscription acceptances are spent in one statement before its
calls, each marked on its receipt (``quota_taken``) so a takeover does not spend a second. Those, and the receipts it
never tried, are taken over by the next worker once the outbox lease runs out: at least once, with a
repeat possible only for a call that reached WeChat but whose answer was not yet written. WeChat's
errcodes decide through backend/clients/wechat_rules.py: sent (errcode 0, with or without a msgid);
retrying with backoff (network errors, -1, 45009; HTTP 5xx/429 for webhooks); skipped (no reported,
unused wx.requestSubscribeMessage acceptance, or 43101 — the inbox copy stays); failed (40003 marks the
binding bad; 40037 / 41030 / 47003: our request is wrong; attempts exhausted).
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

from backend.access.addresses import pinned_url, resolve_outbound
from backend.clients import wechat_rules as rules
from backend.clients.wechat import NETWORK_ERROR, WeChatClient, WeChatError
from backend.db import utcnow
from backend.errors import AppError
from backend.notifications.tables import Delivery, WebhookDelivery
from backend.notifications.templates import get_template, wechat_template_id
from backend.outbox.dispatcher import Message, Retry
from backend.settings import Settings
from backend.workforce.pii import cipher

log = structlog.get_logger("zhijian.notifications.delivery")

LEASE = timedelta(seconds=60)
WEBHOOK_SECRET_CONTEXT = "webhook_secret"  # bound as associated data to every sealed webhook secret


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
    """Write every outcome onto its receipt and into the attempt log: one statement for the batch.

    One statement (the UPDATE and the INSERT are parts of one WITH), so it is atomic by itself: a worker
    killed at any instant leaves both written or neither (tests/notifications/test_worker_e2e.py), without
    the BEGIN and COMMIT round trips a transaction block would add to every message."""
    if not outcomes:
        return
    finished = [None if o.status == "retrying" else now for o in outcomes]
    await table.raw(
        f"WITH t AS (SELECT * FROM unnest({{}}::uuid[], {{}}::int[], {{}}::text[], {{}}::int[], {{}}::text[],"
        " {}::timestamptz[], {}::timestamptz[], {}::text[]) AS t(i, a, s, e, r, n, f, x)),"
        f" u AS (UPDATE {table._meta.tablename} d SET status = t.s, last_errcode = t.e, reason = t.r,"
        " next_attempt_at = t.n, finished_at = t.f, lease_until = NULL, updated_at = {}"
        + (", external_id = t.x" if table is Delivery else "")
        + " FROM t WHERE d.id = t.i RETURNING d.id)"
        " INSERT INTO notification_attempts (delivery_id, channel, attempt, outcome, errcode, detail, at)"
        " SELECT t.i, {}, t.a, t.s, t.e, left(t.r, 300), {} FROM t",
        [o.id for o in outcomes],
        [o.attempt for o in outcomes],
        [o.status for o in outcomes],
        [o.errcode for o in outcomes],
        [o.reason for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        finished,
        [o.external_id for o in outcomes],
        now,
        channel,
        now,
    )


class Recorder:
    """Group commit of outcomes: each call's outcome is written the moment it is known, together with every
    other outcome that became known while the previous write was in flight (one statement for all of them).

    ``record`` returns once the outcome is written. A worker killed meanwhile leaves unwritten at most the
    outcomes of calls that returned during one write's round trip: the repeat window stays "the calls in flight"."""

    def __init__(self, table: type, channel: str) -> None:
        self.table, self.channel = table, channel
        self._waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._writing = False

    async def record(self, outcome: Outcome) -> None:
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, mine))
        if self._writing:
            await mine  # the write in flight takes it next
            return
        self._writing = True
        group: list[tuple[Outcome, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                await _record(self.table, self.channel, [o for o, _ in group], utcnow())
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
        except BaseException as exc:
            # a failed (or cancelled) write is the error of every outcome not yet written: none is left waiting
            for _, done in [*group, *self._waiting]:
                if done is not mine and not done.done():
                    done.set_exception(RuntimeError(f"recording the outcome failed: {exc!r}"))
            self._waiting = []
            if not mine.done() or isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._writing = False


# --- WeChat ------------------------------------------------------------------------------------


# A due receipt; with ``takeover`` (the caller holds the outbox lease) also one left 'sending' by a dead worker.
_CLAIMABLE = (
    " AND (d.status IN ('pending', 'retrying') AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {})"
    " OR ({} AND d.status IN ('retrying', 'sending')))"
)


async def _claim_wechat(ids: list[UUID], now: datetime, takeover: bool = False) -> list[dict[str, Any]]:
    return await Delivery.raw(
        "UPDATE notification_deliveries d SET status = 'sending', attempts = d.attempts + 1, lease_until = {},"
        " updated_at = {}"
        " FROM notifications n JOIN users u ON u.id = n.recipient"
        " WHERE d.id = ANY({}::uuid[]) AND d.notification = n.id AND d.channel = 'wechat'" + _CLAIMABLE
        + " RETURNING d.id, d.attempts, d.quota_taken, n.recipient, n.template, n.data, n.page, u.openid",
        now + LEASE, now, ids, now + timedelta(seconds=1), takeover,
    )


async def _take_quotas(wanted: list[tuple[UUID, UUID, str]]) -> dict[UUID, tuple[bool, bool]]:
    """Per receipt (delivery id, user, WeChat template id): (may_send, holds_one_time_acceptance), for a claimed
    batch in one statement.

    What the users accepted in the mini-program is read under row locks (taken in key order, so two workers
    cannot deadlock on them); a one-time acceptance is spent per receipt, in the batch's order, while any is
    left, and the receipt is marked as holding it (``quota_taken``) in the same statement, so a worker that
    takes the receipt over after a crash does not spend a second one. A long-term acceptance is not spent."""
    if not wanted:
        return {}
    rows = await Delivery.raw(
        "WITH req AS (SELECT d, u, t, row_number() OVER (PARTITION BY u, t ORDER BY o) AS k"
        "             FROM unnest({}::uuid[], {}::uuid[], {}::text[]) WITH ORDINALITY AS r(d, u, t, o)),"
        " s AS (SELECT w.\"user\" AS u, w.template_id AS t, w.kind, w.remaining, w.status FROM wechat_subscriptions w"
        "       WHERE (w.\"user\", w.template_id) IN (SELECT u, t FROM req)"
        "       ORDER BY w.\"user\", w.template_id FOR UPDATE),"
        " g AS (SELECT req.d, req.u, req.t,"
        "              COALESCE(s.status <> 'ban' AND s.kind = 'long_term' AND s.status = 'accept', false) AS lasting,"
        "              COALESCE(s.status <> 'ban' AND s.kind <> 'long_term' AND req.k <= s.remaining, false) AS take"
        "       FROM req LEFT JOIN s ON s.u = req.u AND s.t = req.t),"
        " n AS (SELECT u, t, count(*) AS c FROM g WHERE take GROUP BY u, t),"
        " spend AS (UPDATE wechat_subscriptions w SET remaining = w.remaining - n.c, updated_at = now() FROM n"
        "           WHERE w.\"user\" = n.u AND w.template_id = n.t),"
        " mark AS (UPDATE notification_deliveries x SET quota_taken = true FROM g WHERE x.id = g.d AND g.take)"
        " SELECT g.d AS id, g.lasting, g.take FROM g",  # PostgreSQL runs spend and mark whether read or not
        [w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted],
    )
    return {r["id"]: (r["lasting"] or r["take"], r["take"]) for r in rows}


async def _give_back_quota(delivery_id: UUID, user_id: UUID, template_id: str) -> None:
    """The call failed: the receipt's one-time acceptance goes back to the user (one statement, both rows)."""
    await Delivery.raw(
        "WITH back AS (UPDATE notification_deliveries SET quota_taken = false WHERE id = {} AND quota_taken RETURNING 1)"
        " UPDATE wechat_subscriptions SET remaining = remaining + 1, updated_at = now()"
        " WHERE \"user\" = {} AND template_id = {} AND kind = 'one_time' AND EXISTS (SELECT 1 FROM back)",
        delivery_id, user_id, template_id,
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


def _template_id(settings: Settings, row: dict[str, Any]) -> str:
    return wechat_template_id(settings, get_template(row["template"]))


async def _send_one(settings: Settings, wechat: WeChatClient, row: dict[str, Any], now: datetime,
                    template_id: str, quota: tuple[bool, bool]) -> Outcome:
    oid, attempt = row["id"], row["attempts"]
    if not row["openid"]:
        return Outcome(oid, attempt, "skipped", reason="no_wechat_binding")
    may_send, consumed = quota
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
            await _give_back_quota(oid, row["recipient"], template_id)
        if action is rules.Action.BAD_OPENID:
            await _mark_binding_bad(row["recipient"], row["openid"], err.errcode)
            return Outcome(oid, attempt, "failed", err.errcode, "invalid_openid: binding marked bad")
        # REFRESH_TOKEN here means the client's one refresh-and-retry was refused again: back off.
        if action in (rules.Action.RETRY, rules.Action.REFRESH_TOKEN):
            return _retry_or_fail(settings, oid, attempt, err.errcode, err.errmsg, now)
        return Outcome(oid, attempt, "failed", err.errcode, f"wechat refused: {err.errmsg}")
    # errcode 0 is a success with or without a msgid (the documented answer has none)
    return Outcome(oid, attempt, "sent", 0, "", "" if msgid is None else str(msgid))


def _counts(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


async def send_wechat(
    ids: list[UUID], *, settings: Settings, wechat: WeChatClient, takeover: bool = False
) -> list[Outcome]:
    """Claim and send these WeChat receipts, writing each outcome as soon as its call returns."""
    now = utcnow()
    rows = await _claim_wechat(ids, now, takeover)
    if not rows:
        return []
    template_ids = {r["id"]: _template_id(settings, r) for r in rows}
    held = {r["id"]: (True, True) for r in rows if r["openid"] and r["quota_taken"]}  # taken over after a crash
    quotas = held | await _take_quotas(
        [(r["id"], r["recipient"], template_ids[r["id"]]) for r in rows if r["openid"] and r["id"] not in held])
    gate = asyncio.Semaphore(settings.NOTIFY_CONCURRENCY)
    recorder = Recorder(Delivery, "wechat")

    async def guarded(row: dict[str, Any]) -> Outcome:
        async with gate:
            try:
                outcome = await _send_one(settings, wechat, row, now, template_ids[row["id"]],
                                          quotas.get(row["id"], (False, False)))
            except Exception as exc:  # noqa: BLE001 - one broken receipt must not sink the batch
                log.exception("wechat_delivery_error", delivery=str(row["id"]))
                outcome = _retry_or_fail(settings, row["id"], row["attempts"], None, f"internal: {exc!r}", now)
        await recorder.record(outcome)  # at once (grouped with the others ready): the repeat window is this call
        return outcome

    return list(await asyncio.gather(*(guarded(r) for r in rows)))


async def deliver_wechat(ids: list[UUID], *, settings: Settings, wechat: WeChatClient) -> dict[str, int]:
    """Claim and send these due WeChat receipts; returns counts by outcome."""
    return _counts(await send_wechat(ids, settings=settings, wechat=wechat))


def _answers(messages: list[Message], outcomes: list[Outcome]) -> dict[UUID, Retry | None]:
    """Outbox answers: a receipt left retrying is claimed again at its next attempt; anything else is done."""
    by_ref = {o.id: o for o in outcomes}
    answers: dict[UUID, Retry | None] = {}
    for msg in messages:
        o = by_ref.get(msg.ref)
        answers[msg.id] = Retry(o.next_attempt_at or utcnow(), o.reason) if o and o.status == "retrying" else None
    return answers


async def handle_wechat(ctx: dict[str, Any], messages: list[Message]) -> dict[UUID, Retry | None]:
    """Outbox handler for 'wechat' rows (a receipt already finished is simply done)."""
    outcomes = await send_wechat(
        [m.ref for m in messages if m.ref], settings=ctx["settings"], wechat=ctx["wechat"], takeover=True
    )
    return _answers(messages, outcomes)


# --- webhooks ----------------------------------------------------------------------------------


def seal_secret(settings: Settings, secret: str) -> str:
    """A webhook's signing secret as stored: AES-GCM under the PII key (context "webhook_secret")."""
    return cipher(settings).encrypt(secret, WEBHOOK_SECRET_CONTEXT)


def open_secret(settings: Settings, sealed: str) -> str:
    return cipher(settings).decrypt(sealed, WEBHOOK_SECRET_CONTEXT)


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex; sent as X-Zhijian-Signature: sha256=<hex>."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


async def _claim_webhooks(ids: list[UUID], now: datetime, takeover: bool = False) -> list[dict[str, Any]]:
    return await WebhookDelivery.raw(
        "UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1, lease_until = {}, updated_at = {}"
        " FROM webhooks w WHERE d.id = ANY({}::uuid[]) AND d.webhook = w.id" + _CLAIMABLE
        + " RETURNING d.id, d.attempts, d.template, d.payload, w.url, w.secret, w.active",
        now + LEASE, now, ids, now + timedelta(seconds=1), takeover,
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
        "X-Zhijian-Signature": "sha256=" + sign_webhook(open_secret(settings, row["secret"]), ts, body),
    }
    # Checked again right before the POST (the name may resolve inside the network by now: DNS rebinding),
    # and the connection goes to the address checked, with the registered name as Host and TLS server name.
    try:
        addresses = await asyncio.to_thread(
            resolve_outbound, row["url"], settings.OUTBOUND_ALLOW, schemes=("http", "https"))
    except AppError as exc:
        why = exc.detail.get("reason", "refused") if isinstance(exc.detail, dict) else "refused"
        if why == "unresolvable":  # DNS may answer again later: retried like a network error
            return _retry_or_fail(settings, oid, attempt, NETWORK_ERROR, "outbound_unresolvable: host did not resolve", now)
        return Outcome(oid, attempt, "failed", None, f"outbound_refused: {why} (not sent; allow-list in OUTBOUND_ALLOW)")
    url, host_header, server_name = pinned_url(row["url"], addresses[0])
    headers["Host"] = host_header
    if url.startswith("https:"):
        # httpx pools connections by the pinned address: a TLS connection verified for one name would carry the
        # next delivery to another name on the same address, whose certificate is then never checked. Each HTTPS
        # delivery gets a connection of its own (one handshake a webhook call; webhooks are few).
        headers["Connection"] = "close"
    try:
        resp = await http.post(url, content=body, headers=headers, extensions={"sni_hostname": server_name})
    except httpx.HTTPError as exc:
        return _retry_or_fail(settings, oid, attempt, NETWORK_ERROR, f"network: {type(exc).__name__}", now)
    if 200 <= resp.status_code < 300:
        return Outcome(oid, attempt, "sent", resp.status_code)
    if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
        return _retry_or_fail(settings, oid, attempt, resp.status_code, f"http {resp.status_code}", now)
    return Outcome(oid, attempt, "failed", resp.status_code, f"http {resp.status_code}: refused")


async def send_webhooks(
    ids: list[UUID], *, settings: Settings, http: httpx.AsyncClient, takeover: bool = False
) -> list[Outcome]:
    """Claim and post these webhook receipts, writing each outcome as soon as its call returns."""
    now = utcnow()
    rows = await _claim_webhooks(ids, now, takeover)
    recorder = Recorder(WebhookDelivery, "webhook")

    async def one(row: dict[str, Any]) -> Outcome:
        try:
            outcome = await _post_webhook(settings, http, row, now)
        except Exception as exc:  # noqa: BLE001 - one broken receipt (say, a secret no key opens) must not sink the batch
            log.exception("webhook_delivery_error", delivery=str(row["id"]))
            outcome = _retry_or_fail(settings, row["id"], row["attempts"], None, f"internal: {type(exc).__name__}", now)
        await recorder.record(outcome)
        return outcome

    return list(await asyncio.gather(*(one(r) for r in rows)))


async def deliver_webhooks(ids: list[UUID], *, settings: Settings, http: httpx.AsyncClient) -> dict[str, int]:
    """Claim and post these due webhook receipts; returns counts by outcome."""
    return _counts(await send_webhooks(ids, settings=settings, http=http))


async def handle_webhooks(ctx: dict[str, Any], messages: list[Message]) -> dict[UUID, Retry | None]:
    """Outbox handler for 'webhook' rows."""
    outcomes = await send_webhooks([m.ref for m in messages if m.ref], settings=ctx["settings"], http=ctx["http"], takeover=True)
    return _answers(messages, outcomes)
