"""Through the real ARQ worker process: delivery, a worker killed between attempts, Redis flushed."""

from __future__ import annotations

import signal
import uuid

import pytest

from backend.notifications import service
from backend.notifications.tables import Delivery, DeliveryAttempt
from backend.db import utcnow
from backend.settings import get_settings
from tests.support.api import mp_login, subscribe
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

SEND = "/cgi-bin/message/subscribe/send"
FAST = {"ZHIJIAN_NOTIFY_RETRY_BASE_S": "1.0", "ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5", "ZHIJIAN_RECONCILE_EVERY_S": "2"}


async def _status(notification_id):
    row = await Delivery.select(Delivery.status, Delivery.attempts).where(
        (Delivery.notification == notification_id) & (Delivery.channel == "wechat")
    ).first()
    return row


async def _notify(app, user_id, key):
    return await service.notify(
        [uuid.UUID(user_id)], "generic_notice", {"title": "测试", "content": "端到端", "time": utcnow()},
        dedup_key=key, settings=get_settings(), arq=app.state.arq,
    )


async def test_worker_delivers_a_notification(api, app, wechat_reset, start_worker):
    openid = f"o_{uuid.uuid4().hex[:10]}"
    pair = await mp_login(api, openid)
    await subscribe(api, pair, wechat_reset, "tmpl_generic_notice")
    worker = start_worker(FAST)
    result = await _notify(app, pair["user"]["id"], f"e2e:{uuid.uuid4().hex}")
    row = await eventually(lambda: _sent(result.notification_ids[0]), timeout=15)
    assert row, worker.log()
    assert worker.stop() == 0
    # Other tests' pending receipts may be delivered by this worker too (rightly); count ours.
    assert [m["touser"] for m in wechat_reset.messages() if m["touser"] == openid] == [openid]


async def _sent(notification_id):
    row = await _status(notification_id)
    return row if row and row["status"] == "sent" else None


async def test_worker_killed_between_attempts_no_duplicate_no_loss(api, app, redis_db, wechat_reset, start_worker):
    openid = f"o_{uuid.uuid4().hex[:10]}"
    pair = await mp_login(api, openid)
    await subscribe(api, pair, wechat_reset, "tmpl_generic_notice")
    wechat_reset.fail_next(SEND, -1)  # the first attempt meets a busy WeChat
    worker = start_worker(FAST)
    result = await _notify(app, pair["user"]["id"], f"kill:{uuid.uuid4().hex}")

    async def retrying():
        row = await _status(result.notification_ids[0])
        return row and row["status"] == "retrying"

    assert await eventually(retrying, timeout=15), worker.log()
    worker.kill()  # dies with the retry scheduled
    redis_db.flushdb()  # ... and Redis loses the deferred job too
    worker = start_worker(FAST)
    row = await eventually(lambda: _sent(result.notification_ids[0]), timeout=20)
    assert row and row["attempts"] == 2, worker.log()
    worker.stop()
    assert [m["touser"] for m in wechat_reset.messages() if m["touser"] == openid] == [openid]  # one push
    receipt = await Delivery.select(Delivery.id).where(
        (Delivery.notification == result.notification_ids[0]) & (Delivery.channel == "wechat")
    ).first()
    outcomes = await DeliveryAttempt.select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == receipt["id"]).order_by(DeliveryAttempt.attempt)
    assert [o["outcome"] for o in outcomes] == ["retrying", "sent"]


async def test_notify_while_redis_job_lost_is_still_delivered(api, app, redis_db, wechat_reset, start_worker):
    openid = f"o_{uuid.uuid4().hex[:10]}"
    pair = await mp_login(api, openid)
    await subscribe(api, pair, wechat_reset, "tmpl_generic_notice")
    result = await _notify(app, pair["user"]["id"], f"lost:{uuid.uuid4().hex}")
    redis_db.flushdb()  # the queued job vanishes before any worker saw it
    worker = start_worker(FAST)
    assert await eventually(lambda: _sent(result.notification_ids[0]), timeout=20), worker.log()
    assert worker.stop(signal.SIGTERM) == 0
    assert len([m for m in wechat_reset.messages() if m["touser"] == openid]) == 1
