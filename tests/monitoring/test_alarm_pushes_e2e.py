"""Issue 16 build 2, the monitoring producers: alarms of each level (warning, alarm, danger) and each rule
(cumulative value, rate ×3 running, silence) raised over MQTT through the real iot worker, their pushes
delivered by the real ARQ worker to the strict fake WeChat. Every recipient with a WeChat account (the lead
``demo-lead``, the supervisor ``demo-supervisor``) has reported its acceptances; every receipt ends sent,
matched at the fake by msgid, and the fake refuses nothing (every member with a WeChat account whom the
project's alarms may reach has accepted first).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.notifications.tables import Delivery
from tests.monitoring.helpers import make_sensor, reading, tokens
from tests.notifications.test_every_producer import accept_for_every_member, wechat_settled
from tests.support.api import mp_login
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

FAST = {"ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5", "ZHIJIAN_NOTIFY_RETRY_BASE_S": "1.0"}


async def _alarms(api, toks, project_id) -> list[dict]:
    resp = await api.get("/api/v1/monitoring/alarms", params={"project_id": project_id, "open_only": "false"},
                         headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _receipts(alarm_ids: list[str]) -> list[dict]:
    return await Delivery.select(
        Delivery.status, Delivery.external_id, Delivery.notification.recipient.openid.as_alias("openid"),
        Delivery.notification.template.as_alias("template"),
    ).where((Delivery.channel == "wechat") & (Delivery.notification.subject_type == "monitoring_alarm")
            & Delivery.notification.subject_id.is_in(alarm_ids) & Delivery.notification.recipient.openid.is_not_null())


async def test_alarms_of_each_level_and_rule_reach_wechat_and_nothing_is_refused(api, fake_wechat, start_iot,
                                                                                publisher, start_worker):
    start_worker(FAST)
    assert await eventually(wechat_settled, timeout=60)  # earlier tests' undelivered pushes spend none of ours
    refused_before = len(fake_wechat.refusals())
    # The lead (demo-lead), the supervisor (demo-supervisor), and whoever else the project's alarms reach.
    for openid in ("demo-lead", "demo-supervisor"):
        await mp_login(api, openid)
    assert {"demo-lead", "demo-supervisor"} <= set(await accept_for_every_member(api, fake_wechat))
    toks = await tokens(api)
    level = await make_sensor(api, toks)  # alarm 10 mm, warning 70 % (7 mm), danger 150 % (15 mm)
    rate = await make_sensor(api, toks, alarm_values={"wall_top_horizontal": {
        "cumulative_abs": 1000, "rate_per_day": 24, "warning_ratio": 0.8, "consecutive_rate_ratio": 0.7,
        "consecutive_count": 3, "rate_min_span_s": 3600, "rate_window_s": 3600}})
    quiet = await make_sensor(api, toks, interval_s=1, missed=2)
    start_iot({"ZHIJIAN_MONITORING_SILENCE_CHECK_S": "0.5"})

    publisher.send(level["topic"], reading(0, 0.0))
    for i, value in ((1, 7.5), (2, 11.0), (3, 16.0)):  # warning, alarm, danger
        publisher.send(level["topic"], reading(i, value))
    publisher.send(rate["topic"], {"readings": [reading(i, 0.75 * i) for i in range(4)]})  # 75 % of the rate ×3
    publisher.send(quiet["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.0})  # then falls silent

    async def raised():
        found = {}
        for s in (level, rate, quiet):
            mine = [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"]]
            if not mine:
                return None
            found[s["id"]] = mine[0]
        return found if found[level["id"]]["max_level"] == 3 else None

    alarms = await eventually(raised, timeout=40)
    assert alarms, "not every alarm was raised"
    assert alarms[quiet["id"]]["rule"] == "silent" and alarms[rate["id"]]["level"] == 2
    alarm_ids = [a["id"] for a in alarms.values()]

    async def settled():
        rows = await _receipts(alarm_ids)
        # warning, alarm, danger to the lead; danger also to the supervisor; rate and silence to the lead
        enough = len(rows) >= 6 and {r["openid"] for r in rows} >= {"demo-lead", "demo-supervisor"}
        return rows if enough and all(r["status"] in ("sent", "failed", "skipped") for r in rows) else None

    receipts = await eventually(settled, timeout=40)
    assert receipts, await _receipts(alarm_ids)
    assert [r for r in receipts if r["status"] != "sent"] == []
    assert {r["template"] for r in receipts} == {"alarm_raised"}
    accepted = {str(m["msgid"]): m for m in fake_wechat.messages()}
    assert all(r["external_id"] in accepted and accepted[r["external_id"]]["touser"] == r["openid"] for r in receipts)
    assert len({r["external_id"] for r in receipts}) == len(receipts)
    assert fake_wechat.refusals()[refused_before:] == []
