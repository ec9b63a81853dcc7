"""Sensor lifecycle through the API (issue 18): alarm values edited with the plan reference (the lead may only
tighten), the baseline (supervisor), pause for maintenance (no silence, readings kept), resume, retire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.monitoring.tables import Alarm, DeadLetter, Reading
from tests.monitoring.helpers import make_sensor, reading, rule_state, tokens
from tests.support.asserts import assert_error
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def test_thresholds_are_edited_with_the_plan_reference_and_the_lead_may_only_tighten(api):
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # plan: 10 mm, 48 mm/d, warning 70 %
    url = f"/api/v1/monitoring/sensors/{s['id']}/thresholds"
    assert_error(await api.patch(url, json={"cumulative_abs": 8}, headers=toks["lead_wang"]), 400, "PLAN_REF_REQUIRED")
    # Tighter: the lead may.
    resp = await api.patch(url, json={"cumulative_abs": 8, "plan_ref": "FA-2026-01 第2版", "note": "加密"},
                           headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["sensor"]["thresholds"]["cumulative_abs"] == 8
    assert body["sensor"]["threshold_sources"]["cumulative_abs"] == "edit:FA-2026-01 第2版"
    [event] = body["events"]
    assert (event["kind"], event["plan_ref"], event["before"], event["after"]) == (
        "thresholds_changed", "FA-2026-01 第2版", {"cumulative_abs": 10}, {"cumulative_abs": 8})
    # Looser (a higher alarm value, a later warning, a slower rate verdict): the regulated party may not.
    for change in ({"cumulative_abs": 12}, {"warning_ratio": 0.9}, {"rate_min_span_s": 172800},
                   {"consecutive_count": 0}):
        assert_error(await api.patch(url, json={**change, "plan_ref": "FA-2026-01 第3版"}, headers=toks["lead_wang"]),
                     403, "THRESHOLD_LOOSENING_FORBIDDEN")
    # The supervisor may, and it is on the trail with who did it.
    resp = await api.patch(url, json={"cumulative_abs": 12, "plan_ref": "FA-2026-01 第3版"}, headers=toks["sup_li"])
    assert resp.status_code == 200, resp.text
    assert [e["kind"] for e in resp.json()["events"]] == ["thresholds_changed"] * 2
    assert resp.json()["events"][-1]["actor"] is not None
    # Outsiders cannot touch it; removing every limit is refused.
    assert_error(await api.patch(url, json={"cumulative_abs": 5, "plan_ref": "x"}, headers=toks["lw_inspector"]),
                 403, "FORBIDDEN_DISTRICT")
    trail = await api.get(f"/api/v1/monitoring/sensors/{s['id']}/lifecycle", headers=toks["lc_inspector"])
    assert trail.status_code == 200 and len(trail.json()["events"]) == 2


async def test_baseline_is_set_by_the_supervisor_and_judged_from(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # alarm 10 mm
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(i, 5.0) for i in range(3)]})
    assert await eventually(lambda: _stored_is(s["id"], 3), timeout=30)
    assert (await rule_state(s["id"]))["baseline"] == 5.0  # the first reading
    url = f"/api/v1/monitoring/sensors/{s['id']}/baseline"
    assert_error(await api.post(url, json={"value": 8.0, "plan_ref": "FA-2026-01"}, headers=toks["lead_wang"]), 403,
                 "FORBIDDEN_ROLE")  # the route table: supervisor or staff
    resp = await api.post(url, json={"value": -6.0, "plan_ref": "FA-2026-01", "note": "复测初始值"},
                          headers=toks["sup_li"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"][-1]["before"] == {"baseline": 5.0}
    publisher.send(s["topic"], reading(3, 5.0))  # 11 mm from the new baseline: alarm
    [alarm] = await eventually(lambda: _alarms(s["id"]), timeout=30)
    assert alarm["level"] == 2 and alarm["cumulative"] == 11.0


async def test_paused_sensor_keeps_its_readings_aside_and_is_not_silent(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, interval_s=1, missed=2)
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/pause", json={"note": "更换棱镜"},
                          headers=toks["lead_wang"])
    assert resp.status_code == 200 and resp.json()["status"] == "paused"
    assert_error(await api.post(f"/api/v1/monitoring/sensors/{s['id']}/pause", json={"note": "again"},
                                headers=toks["lead_wang"]), 409, "SENSOR_STATE")
    start_iot({"ZHIJIAN_MONITORING_SILENCE_CHECK_S": "0.3", "ZHIJIAN_MONITORING_SENSOR_REFRESH_S": "0.2"})
    import asyncio

    await asyncio.sleep(1.5)
    publisher.send(s["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.0})
    assert await eventually(lambda: _dead_reason(s["id"], "paused"), timeout=30)
    await asyncio.sleep(2)  # several silence checks, well past interval × missed: nothing while paused
    assert await _alarms(s["id"]) == [] and await Reading.count().where(Reading.sensor == s["id"]) == 0
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/resume", json={"note": "完成"},
                          headers=toks["lead_wang"])
    assert resp.status_code == 200 and resp.json()["status"] == "active"
    assert [e["kind"] for e in resp.json()["events"]] == ["paused", "resumed"]
    # Resumed and still not reporting: silent again, counted from the resumption.
    [silent] = await eventually(lambda: _alarms(s["id"]), timeout=30)
    assert silent["rule"] == "silent"


async def _stored_is(sensor_id: str, n: int) -> bool:
    return await Reading.count().where(Reading.sensor == sensor_id) == n


async def _alarms(sensor_id: str) -> list[dict]:
    return await Alarm.select().where(Alarm.sensor == sensor_id)


async def _dead_reason(sensor_id: str, reason: str) -> bool:
    return await DeadLetter.exists().where((DeadLetter.sensor == sensor_id) & (DeadLetter.reason == reason))
