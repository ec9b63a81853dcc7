"""notify() and WeChat delivery against the fake WeChat server: quota, each error code, idempotency."""

from __future__ import annotations

import uuid

import pytest

from backend.notifications import delivery, service
from backend.notifications.tables import Delivery, DeliveryAttempt
from backend.settings import get_settings
from tests.support.api import bearer, mp_login, subscribe

pytestmark = pytest.mark.asyncio

SEND = "/cgi-bin/message/subscribe/send"
ALARM_TID = "tmpl_alarm_raised"


async def _citizen(api, fake, accept: int = 0):
    """A citizen who accepted the alarm template ``accept`` times (WeChat and our backend both told)."""
    pair = await mp_login(api)
    await subscribe(api, pair, fake, ALARM_TID, times=accept)
    return pair


async def _notify(user_id, key=None, **data):
    payload = {"project": "温州市鹿城区滨江商务区T05地块住宅项目（一期）", "point": "CX-03 深层水平位移", "level": "报警", "time": "2026-11-24T02:00:00+00:00", "detail": "累计变化 32.5 mm，超过报警值 30 mm", **data}
    return await service.notify(
        [uuid.UUID(user_id)], "alarm_raised", payload, dedup_key=key or f"test:{uuid.uuid4().hex}",
        settings=get_settings(), arq=None, subject=("alarm", "A-1"),
    )


async def _deliver(app, ids):
    return await delivery.deliver_wechat(ids, settings=get_settings(), wechat=app.state.wechat)


async def _receipt(notification_id, channel="wechat"):
    return await Delivery.select().where((Delivery.notification == notification_id) & (Delivery.channel == channel)).first()


async def _sent_to(fake, openid):
    return [m for m in fake.messages() if m["touser"] == openid]


async def test_with_quota_reaches_wechat_exactly_once(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset, accept=1)
    user = pair["user"]["id"]
    result = await _notify(user, key="alarm:A-1:level:alarm")
    assert len(result.notification_ids) == 1 and len(result.wechat_pending) == 1
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}
    # Delivering the same receipts again sends nothing; notifying with the same key creates nothing.
    assert await _deliver(app, result.wechat_pending) == {}
    again = await _notify(user, key="alarm:A-1:level:alarm")
    assert again.notification_ids == [] and again.duplicates == 1
    sends = wechat_reset.requests(SEND)
    assert len(sends) == 1 and len(wechat_reset.messages()) == 1
    message = wechat_reset.messages()[0]
    assert message["template_id"] == ALARM_TID and message["page"] == "pages/alarm/detail?id=A-1"
    assert message["miniprogram_state"] == "formal" and message["lang"] == "zh_CN"
    assert all(len(v["value"]) <= 20 for k, v in message["data"].items() if k.startswith("thing"))
    assert message["data"]["thing1"]["value"].endswith("…")
    assert message["data"]["time4"]["value"] == "2026年11月24日 10:00"  # the ISO time, in the city's zone
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "sent" and receipt["attempts"] == 1 and receipt["external_id"]
    assert (await _receipt(result.notification_ids[0], "inbox"))["status"] == "sent"
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs == [{"template_id": ALARM_TID, "template_key": "alarm_raised", "kind": "one_time", "status": "accept", "remaining": 0}]


async def test_without_quota_lands_in_inbox_with_a_reason(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset, accept=1)
    first = await _notify(pair["user"]["id"])
    await _deliver(app, first.wechat_pending)
    second = await _notify(pair["user"]["id"])
    assert await _deliver(app, second.wechat_pending) == {"skipped": 1}
    receipt = await _receipt(second.notification_ids[0])
    assert receipt["status"] == "skipped" and receipt["reason"].startswith("no_quota")
    assert len(wechat_reset.messages()) == 1  # only the first
    inbox = (await api.get("/mp/v1/inbox", headers=bearer(pair))).json()
    assert inbox["total"] == 2 and inbox["unread"] == 2
    assert inbox["items"][0]["title"] == "监测报警：报警"


async def test_never_accepted_is_never_sent(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset)  # never reported a wx.requestSubscribeMessage acceptance
    result = await _notify(pair["user"]["id"])
    assert await _deliver(app, result.wechat_pending) == {"skipped": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "skipped" and receipt["reason"].startswith("no_quota")
    assert [r for r in wechat_reset.requests(SEND) if r["json"]["touser"] == pair["openid"]] == []


async def test_43101_is_recorded_and_not_retried(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset)
    # The mini-program reported an acceptance WeChat does not hold (e.g. the tap was for another
    # template version): the strict fake answers 43101 on its own.
    resp = await api.post("/mp/v1/subscriptions", json={"results": {ALARM_TID: "accept"}}, headers=bearer(pair))
    assert resp.status_code == 200
    wechat_reset.expect_refusal(43101)
    result = await _notify(pair["user"]["id"])
    assert await _deliver(app, result.wechat_pending) == {"skipped": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "skipped" and receipt["last_errcode"] == 43101 and receipt["next_attempt_at"] is None
    assert len(wechat_reset.requests(SEND)) == 1
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs[0]["remaining"] == 0


async def test_40003_marks_the_binding_bad_until_next_sign_in(api, app, wechat_reset):
    openid = f"o_{uuid.uuid4().hex[:12]}"
    pair = await mp_login(api, openid)
    await subscribe(api, pair, wechat_reset, ALARM_TID)
    wechat_reset.fail_next(SEND, 40003)
    first = await _notify(pair["user"]["id"])
    assert await _deliver(app, first.wechat_pending) == {"failed": 1}
    assert (await _receipt(first.notification_ids[0]))["reason"].startswith("invalid_openid")
    second = await _notify(pair["user"]["id"])
    assert second.wechat_pending == []
    assert (await _receipt(second.notification_ids[0]))["reason"] == "wechat_binding_invalid"
    await mp_login(api, openid)  # signing in again proves the openid
    third = await _notify(pair["user"]["id"])
    assert len(third.wechat_pending) == 1
    assert await _deliver(app, third.wechat_pending) == {"sent": 1}


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_token_errors_refresh_once_and_retry(api, app, wechat_reset, errcode):
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    await app.state.wechat.access_token()  # a token exists ...
    wechat_reset.fail_next(SEND, errcode)  # ... but WeChat says it is no good once
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}
    assert len(wechat_reset.requests(SEND)) == 2 and len(wechat_reset.messages()) == 1
    assert (await _receipt(result.notification_ids[0]))["attempts"] == 1


async def test_busy_and_network_errors_retry_with_backoff_then_give_up(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset, accept=2)
    result = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, -1)
    assert await _deliver(app, result.wechat_pending) == {"retrying": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "retrying" and receipt["last_errcode"] == -1 and receipt["next_attempt_at"]
    # Not due yet: a second run does nothing.
    assert await _deliver(app, result.wechat_pending) == {}
    await Delivery.update({Delivery.next_attempt_at: None}).where(Delivery.id == receipt["id"])
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}
    attempts = await DeliveryAttempt.select().where(DeliveryAttempt.delivery_id == receipt["id"]).order_by(DeliveryAttempt.attempt)
    assert [(a["attempt"], a["outcome"], a["errcode"]) for a in attempts] == [(1, "retrying", -1), (2, "sent", 0)]

    other = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, -1, times=get_settings().NOTIFY_MAX_ATTEMPTS)
    for _ in range(get_settings().NOTIFY_MAX_ATTEMPTS):
        await Delivery.update({Delivery.next_attempt_at: None}).where(Delivery.id == other.wechat_pending[0])
        await _deliver(app, other.wechat_pending)
    final = await _receipt(other.notification_ids[0])
    assert final["status"] == "failed" and final["reason"].startswith("gave up")
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs[0]["remaining"] == 1  # the failed message did not spend the acceptance


async def test_success_without_msgid_is_sent_once_not_five_times(api, app, wechat_reset):
    """Issue #16: {"errcode":0,"errmsg":"ok"} (WeChat's documented answer) is a success."""
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, 0)  # the next send succeeds without a msgid
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "sent" and receipt["attempts"] == 1 and receipt["external_id"] == ""
    assert len([r for r in wechat_reset.requests(SEND) if r["json"]["touser"] == pair["openid"]]) == 1


@pytest.mark.parametrize("errcode", [40037, 41030, 47003])
async def test_a_wrong_request_fails_at_once_and_keeps_the_acceptance(api, app, wechat_reset, errcode):
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, errcode)
    assert await _deliver(app, result.wechat_pending) == {"failed": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["last_errcode"] == errcode and receipt["next_attempt_at"] is None
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs[0]["remaining"] == 1


async def test_daily_quota_45009_is_retried_later(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, 45009)
    assert await _deliver(app, result.wechat_pending) == {"retrying": 1}
    receipt = await _receipt(result.notification_ids[0])
    await Delivery.update({Delivery.next_attempt_at: None}).where(Delivery.id == receipt["id"])
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}


async def test_users_without_wechat_get_the_inbox_only(api, app, wechat_reset):
    from tests.support.api import staff_token

    me = (await api.get("/api/v1/me", headers=await staff_token(api, "ra_inspector"))).json()
    result = await _notify(me["id"])
    assert result.wechat_pending == []
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["status"] == "skipped" and receipt["reason"] == "no_wechat_binding"


async def test_unknown_template_is_refused():
    from backend.errors import BadRequest

    with pytest.raises(BadRequest) as err:
        await service.notify([uuid.uuid4()], "nope", {}, "k", settings=get_settings(), arq=None)
    assert err.value.code == "TEMPLATE_UNKNOWN"


# --- a claimed batch spends its acceptances in one statement (issue 16, speed) ------------------------


async def test_one_batch_spends_exactly_the_acceptances_there_are(api, app, wechat_reset):
    """Three receipts of one user and template in one claimed batch, two acceptances: two sent, one skipped."""
    pair = await _citizen(api, wechat_reset, accept=2)
    pending = [(await _notify(pair["user"]["id"])).wechat_pending[0] for _ in range(3)]
    assert await _deliver(app, pending) == {"sent": 2, "skipped": 1}
    assert len(await _sent_to(wechat_reset, pair["openid"])) == 2
    rows = await Delivery.select(Delivery.status, Delivery.quota_taken).where(Delivery.id.is_in(pending))
    assert sorted((r["status"], r["quota_taken"]) for r in rows) == [("sent", True), ("sent", True), ("skipped", False)]
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs[0]["remaining"] == 0


async def test_a_takeover_does_not_spend_a_second_acceptance(api, app, wechat_reset):
    """A worker killed after its batch spent the acceptance (receipt left 'sending', quota_taken): the worker
    that takes the receipt over sends it on that acceptance, though the user has none left."""
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    rows = await delivery._claim_wechat(result.wechat_pending, delivery.utcnow())
    assert await delivery._take_quotas([(rows[0]["id"], rows[0]["recipient"], ALARM_TID)]) == {rows[0]["id"]: (True, True)}
    subs = (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()
    assert subs[0]["remaining"] == 0  # spent; the "worker" dies here, before its call
    outcomes = await delivery.send_wechat(result.wechat_pending, settings=get_settings(), wechat=app.state.wechat,
                                          takeover=True)
    assert [o.status for o in outcomes] == ["sent"]
    assert len(await _sent_to(wechat_reset, pair["openid"])) == 1
    assert (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()[0]["remaining"] == 0


async def test_a_retried_call_gives_its_acceptance_back_and_takes_it_again(api, app, wechat_reset):
    pair = await _citizen(api, wechat_reset, accept=1)
    result = await _notify(pair["user"]["id"])
    wechat_reset.fail_next(SEND, -1)
    assert await _deliver(app, result.wechat_pending) == {"retrying": 1}
    receipt = await _receipt(result.notification_ids[0])
    assert receipt["quota_taken"] is False
    assert (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()[0]["remaining"] == 1
    await Delivery.update({Delivery.next_attempt_at: None}).where(Delivery.id == receipt["id"])
    assert await _deliver(app, result.wechat_pending) == {"sent": 1}
    assert (await api.get("/mp/v1/subscriptions", headers=bearer(pair))).json()[0]["remaining"] == 0


async def test_two_workers_never_spend_one_acceptance_twice(api, app, wechat_reset):
    """Two batches of the same user's receipts claimed at once by two callers: acceptances are spent under row
    locks, so exactly as many messages go out as were accepted."""
    import asyncio

    pair = await _citizen(api, wechat_reset, accept=3)
    pending = [(await _notify(pair["user"]["id"])).wechat_pending[0] for _ in range(6)]
    counts = await asyncio.gather(_deliver(app, pending[:3]), _deliver(app, pending[3:]))
    assert sum(c.get("sent", 0) for c in counts) == 3 and sum(c.get("skipped", 0) for c in counts) == 3
    assert len(await _sent_to(wechat_reset, pair["openid"])) == 3


async def test_the_recorder_writes_outcomes_together_and_fails_every_waiter_on_error(app):
    """Outcomes that come back while a write is in flight share the next statement; a failed write is an error
    for each of its outcomes' callers (none is left waiting)."""
    import asyncio

    pair_ids = [uuid.uuid4() for _ in range(5)]
    recorder = delivery.Recorder(Delivery, "wechat")
    good = [delivery.Outcome(i, 1, "sent", 0) for i in pair_ids[:4]]
    await asyncio.gather(*(recorder.record(o) for o in good))
    written = await DeliveryAttempt.select(DeliveryAttempt.delivery_id, DeliveryAttempt.at).where(
        DeliveryAttempt.delivery_id.is_in(pair_ids[:4]))
    assert sorted(r["delivery_id"] for r in written) == sorted(pair_ids[:4])
    assert len({r["at"] for r in written}) == 2  # the first alone, the three that waited for it together
    bad = delivery.Outcome(pair_ids[4], 1, "failed", None, "nul \x00 byte")  # PostgreSQL refuses NUL in text
    results = await asyncio.gather(recorder.record(good[0]), recorder.record(bad), recorder.record(good[1]),
                                   return_exceptions=True)
    # the first was written alone (its caller, who then wrote the others' group, is not told of their failure);
    # the group with the bad outcome fails as a whole
    assert results[0] is None and all(isinstance(r, RuntimeError) for r in results[1:])
    assert recorder._waiting == [] and recorder._writing is False
