"""Escalation chains through the real worker: steps fire in order, stop when acknowledged, survive Redis loss."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend.notifications import escalation
from backend.notifications.escalation import EscalationStep
from backend.notifications.tables import Escalation, Notification
from backend.settings import get_settings
from tests.support.api import mp_login
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

FAST = {"ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5", "ZHIJIAN_RECONCILE_EVERY_S": "2"}
DATA = {"project": "测试项目", "point": "CX-1", "level": "报警", "time": "现在", "detail": "超过报警值"}


async def _people(api, n):
    return [uuid.UUID((await mp_login(api))["user"]["id"]) for _ in range(n)]


async def _told(user_id, subject_id):
    return await Notification.count().where((Notification.recipient == user_id) & (Notification.subject_id == subject_id))


async def test_chain_runs_in_order_until_completed(api, app, start_worker):
    a, b, c = await _people(api, 3)
    start_worker(FAST)
    subject = ("alarm", f"A-{uuid.uuid4().hex[:8]}")
    esc_id = await escalation.start_escalation(
        subject, "alarm_raised", DATA,
        [EscalationStep(0, [a]), EscalationStep(2, [b]), EscalationStep(4, [c])],
        settings=get_settings(), arq=app.state.arq,
    )
    assert await _told(a, subject[1]) == 1  # the first group is told at once
    assert await _told(b, subject[1]) == 0
    assert await eventually(lambda: _told(b, subject[1]), timeout=10)
    assert await _told(c, subject[1]) == 0
    assert await eventually(lambda: _told(c, subject[1]), timeout=10)
    row = await Escalation.select().where(Escalation.id == esc_id).first()
    assert row["status"] == "completed" and row["next_at"] is None
    b_at = (await Notification.select(Notification.created_at).where(Notification.recipient == b).first())["created_at"]
    c_at = (await Notification.select(Notification.created_at).where(Notification.recipient == c).first())["created_at"]
    assert 1.5 <= (c_at - b_at).total_seconds() <= 4


async def test_acknowledged_chain_stops(api, app, start_worker):
    a, b = await _people(api, 2)
    start_worker(FAST)
    subject = ("alarm", f"A-{uuid.uuid4().hex[:8]}")
    await escalation.start_escalation(
        subject, "alarm_raised", DATA, [EscalationStep(0, [a]), EscalationStep(3, [b])],
        settings=get_settings(), arq=app.state.arq,
    )
    assert await escalation.stop_escalations(subject, "acknowledged by lead", arq=app.state.arq) == 1
    await asyncio.sleep(5)
    assert await _told(a, subject[1]) == 1 and await _told(b, subject[1]) == 0
    assert await escalation.stop_escalations(subject, "again", arq=app.state.arq) == 0


async def test_chain_survives_redis_loss_and_worker_restart(api, app, redis_db, start_worker):
    a, b = await _people(api, 2)
    worker = start_worker(FAST)
    subject = ("alarm", f"A-{uuid.uuid4().hex[:8]}")
    await escalation.start_escalation(
        subject, "alarm_raised", DATA, [EscalationStep(0, [a]), EscalationStep(3, [b])],
        settings=get_settings(), arq=app.state.arq,
    )
    worker.kill()
    redis_db.flushdb()  # the deferred step job is gone
    start_worker(FAST)
    assert await eventually(lambda: _told(b, subject[1]), timeout=15)
    await asyncio.sleep(1)
    assert await _told(b, subject[1]) == 1  # once, not once per rebuild


async def test_a_later_step_after_the_json_round_trip_is_accepted_by_the_strict_fake(api, app, wechat_reset, start_worker):
    """Issue #16: the alarm time reached later steps as a UTC ISO string and was cut with '…' (47003)."""
    from datetime import UTC, datetime

    from tests.support.api import subscribe

    pairs = [await mp_login(api) for _ in range(2)]
    for pair in pairs:
        await subscribe(api, pair, wechat_reset, "tmpl_alarm_raised")
    start_worker(FAST)
    subject = ("alarm", f"A-{uuid.uuid4().hex[:8]}")
    raised = datetime(2026, 12, 3, 23, 7, 14, 123456, tzinfo=UTC)
    await escalation.start_escalation(
        subject, "alarm_raised", {**DATA, "time": raised},
        [EscalationStep(0, [uuid.UUID(pairs[0]["user"]["id"])]), EscalationStep(1, [uuid.UUID(pairs[1]["user"]["id"])])],
        settings=get_settings(), arq=app.state.arq,
    )

    def delivered():
        return [m for m in wechat_reset.messages() if m["touser"] in {p["openid"] for p in pairs}]

    async def both():
        got = await asyncio.to_thread(delivered)
        return got if len(got) == 2 else None

    messages = await eventually(both, timeout=20)
    assert messages, wechat_reset.refusals()[-3:]
    assert {m["data"]["time4"]["value"] for m in messages} == {"2026年12月4日 07:07"}  # city zone, both steps
