"""The fault test (issue 16): workers SIGKILLed at random moments and Redis flushed while pushes and timers are in flight.

N notifications are written in waves (each inside a transaction, as producers do); M timers run meanwhile:
escalation chains with one timed step each and the four SLA stages of complaints filed with a short SLA
(durable timers: rows in ``timers``, ARQ deferred jobs as the fast path — the Redis flush drops those —
and the one reconciler). The ARQ worker is
SIGKILLed at random moments several times, Redis is flushed once, a new worker takes over each time.
Afterwards every notification reached the fake WeChat server, every timer fired exactly once, and the
only repeats are pushes that were in flight when a worker died (counted and printed).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter

import pytest

from backend.complaints.tables import Event
from backend.notifications import escalation, service
from backend.notifications.escalation import EscalationStep
from backend.notifications.tables import Delivery, Escalation, Notification
from backend.outbox.tables import OutboxMessage
from backend.db import utcnow
from backend.settings import get_settings
from backend.timers.tables import DueTimer
from tests.complaints.helpers import report
from tests.support.api import mp_login, subscribe
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

SEND = "/cgi-bin/message/subscribe/send"
LEASE_S = 2.0
BATCH, BATCHES = 8, 2
ENV = {
    "ZHIJIAN_OUTBOX_LEASE_S": str(LEASE_S),
    "ZHIJIAN_OUTBOX_POLL_S": "0.2",
    "ZHIJIAN_OUTBOX_BATCH": str(BATCH),
    "ZHIJIAN_OUTBOX_BATCHES": str(BATCHES),
    "ZHIJIAN_NOTIFY_RETRY_BASE_S": "0.5",
    "ZHIJIAN_RECONCILE_EVERY_S": "2",
}
N_WAVES, PER_WAVE = 4, 60  # N = 240 notifications
M_TIMERS = 24  # escalation steps, plus 4 SLA stages per complaint
COMPLAINTS = 4
STAGES = ("remind_1", "remind_2", "warning", "breach")
KILLS = 4


async def _wave(users: list[uuid.UUID], run: str, wave: int) -> list[str]:
    tags = []
    for i in range(PER_WAVE):
        tag = f"{run}-n{wave}-{i}"
        async with Notification._meta.db.transaction():  # as a producer does: inside its own change
            await service.notify(
                [users[i % len(users)]], "generic_notice", {"title": "故障演练", "content": tag, "time": utcnow()},
                dedup_key=f"fault:{tag}", settings=get_settings(), arq=None,
            )
        tags.append(tag)
    return tags


def _tag(message: dict) -> str:
    """Our pushes carry their tag in thing2 (other templates, e.g. the complaints' own, have none)."""
    return message["data"].get("thing2", {}).get("value", "")


async def test_sigkill_and_redis_flush_lose_nothing(api, app, admin, redis_db, wechat_reset, start_worker):
    rng = random.Random(16)
    run = uuid.uuid4().hex[:6]
    pairs = [await mp_login(api, f"o_fault_{run}_{k}") for k in range(6)]
    users = [uuid.UUID(p["user"]["id"]) for p in pairs]
    # WeChat sends only against a reported, unused acceptance, one per push: 44 pushes each, and a send repeated
    # after a kill spends one more on both sides (up to a batch in flight per kill), so plenty are given.
    for pair in pairs:
        await subscribe(api, pair, wechat_reset, "tmpl_generic_notice", times=90)
        wechat_reset.accept(pair["openid"], "tmpl_generic_notice", times=30)
    wechat_reset.delay(SEND, 120)  # each push takes a while: calls are in flight when the worker dies

    # M timers: one-step escalation chains due 1-12 s from now (outbox tasks with a due time).
    chains: dict[uuid.UUID, str] = {}
    for j in range(M_TIMERS):
        tag = f"{run}-t{j}"
        esc_id = await escalation.start_escalation(
            ("fault", tag), "generic_notice", {"title": "定时演练", "content": tag, "time": utcnow()},
            [EscalationStep(rng.uniform(1, 12), [users[j % len(users)]])], settings=get_settings(), arq=app.state.arq,
        )
        chains[esc_id] = tag

    # More timers: complaints with a 14 s SLA (stages at ~4.7, 9.3, 12.8 and 14 s), filed through the API.
    code = f"fault_{run}"
    resp = await api.put(f"/api/v1/complaints/categories/{code}", json={"name": "故障演练", "sla_hours": 14 / 3600},
                         headers=admin)
    assert resp.status_code == 200, resp.text
    complaints = [(await report(api, admin, 330302, category=code))[1]["id"] for _ in range(COMPLAINTS)]

    tags: list[str] = []
    kills: list[float] = []
    worker = start_worker(ENV)
    for k in range(KILLS):
        wave = await _wave(users, run, k) if k < N_WAVES else []
        tags += wave
        # A random moment in the middle of the wave's delivery: between 10 % and 90 % of it has reached WeChat.
        share = rng.uniform(0.1, 0.9)

        async def mid_wave(wave=wave, share=share) -> bool:
            seen = {_tag(m) for m in wechat_reset.messages()}
            return len(seen & set(wave)) >= share * len(wave)

        assert await eventually(mid_wave, timeout=60, interval=0.02), worker.log()[-3000:]
        kills.append(time.time())
        worker.kill()
        if k == 1:
            redis_db.flushdb()  # Redis loses every queued and deferred job once
        worker = start_worker(ENV)
    tags += [t for w in range(KILLS, N_WAVES) for t in await _wave(users, run, w)]
    expected = set(tags) | set(chains.values())

    async def all_delivered() -> bool:
        seen = {_tag(m) for m in wechat_reset.messages() if _tag(m).startswith(run)}
        return expected <= seen

    assert await eventually(all_delivered, timeout=120, interval=0.5), worker.log()[-3000:]

    async def all_stages_fired() -> bool:
        keys = [f"{c}:{stage}:0" for c in complaints for stage in STAGES]
        return await DueTimer.count().where(DueTimer.key.is_in(keys) & (DueTimer.status == "fired")) == len(keys)

    assert await eventually(all_stages_fired, timeout=60, interval=0.5), worker.log()[-3000:]
    worker.stop()

    pushes = Counter(_tag(m) for m in wechat_reset.messages() if _tag(m).startswith(run))
    missing = expected - set(pushes)
    repeats = {t: n for t, n in pushes.items() if n > 1}
    first_at = {}
    for m in wechat_reset.messages():
        first_at.setdefault(_tag(m), m["time"])
    # A repeat is a call in flight when a worker was killed: WeChat accepted it (the fake records it when it
    # answers, up to the 120 ms delay after the kill) and the dead worker never wrote the outcome.
    gaps = [min(abs(first_at[t] - kt) for kt in kills) for t in repeats]
    print(f"\nfault test: {len(expected)} pushes ({len(tags)} notifications, {len(chains)} escalation timers;"
          f" and {4 * len(complaints)} SLA timers), {KILLS} SIGKILLs,"
          f" 1 Redis flush; delivered {len(expected) - len(missing)}, repeated {sum(n - 1 for n in repeats.values())}"
          f" ({len(repeats)} messages, at most {BATCH * BATCHES} in flight per kill); first push of each repeat"
          f" from its kill: max {max(gaps, default=0):.3f} s")
    assert not missing
    assert all(g < 1.0 for g in gaps), (gaps, kills)  # only calls in flight at a kill
    assert sum(n - 1 for n in repeats.values()) <= KILLS * BATCH * BATCHES  # at most what was in flight

    # Every timer fired exactly once: one notification per chain step, each chain completed.
    rows = await Escalation.select(Escalation.id, Escalation.status).where(Escalation.id.is_in(list(chains)))
    assert {r["status"] for r in rows} == {"completed"}
    for esc_id in chains:
        assert await Notification.count().where(Notification.dedup_key == f"esc:{esc_id}:0") == 1
    fired = await DueTimer.select(DueTimer.status).where(DueTimer.key.is_in([f"{e}:0" for e in chains]))
    assert [r["status"] for r in fired] == ["fired"] * len(chains)
    for cid in complaints:  # each SLA stage fired exactly once: one timeline event, one reminder
        events = [r["kind"] for r in await Event.select(Event.kind).where(
            (Event.complaint == uuid.UUID(cid)) & Event.kind.like("sla_%")).order_by(Event.id)]
        assert events == ["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"], (cid, events)
    # Every receipt is closed as sent and no outbox row of ours is left pending.
    ids = [r["id"] for r in await Notification.select(Notification.id).where(Notification.dedup_key.like(f"fault:{run}-%"))]
    assert len(ids) == len(tags)
    statuses = Counter(r["status"] for r in await Delivery.select(Delivery.status).where(
        Delivery.notification.is_in(ids) & (Delivery.channel == "wechat")))
    assert statuses == {"sent": len(tags)}
    receipts = [r["id"] for r in await Delivery.select(Delivery.id).where(Delivery.notification.is_in(ids))]
    assert await OutboxMessage.count().where(OutboxMessage.ref.is_in(receipts) & (OutboxMessage.status != "done")) == 0
    # The kills did land mid-batch: rows a dead worker had claimed were claimed again by the next one.
    taken_over = await OutboxMessage.count().where(OutboxMessage.ref.is_in(receipts) & (OutboxMessage.attempts > 1))
    print(f"fault test: {taken_over} outbox rows claimed again after their worker was killed")
    assert taken_over > 0
