"""The monitoring API: classification, plans, thresholds from plan vs defaults, role / district / owner checks,
series, and ack / clear / comment (regulator API and mini-program)."""

from __future__ import annotations

import uuid

import pytest

from backend.monitoring.classify import Classification, Kind, classify
from backend.notifications.tables import Escalation
from tests.monitoring.helpers import make_sensor, project_id, reading, tokens
from tests.support.asserts import assert_error
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(("kind", "params", "expected"), [
    (Kind.FOUNDATION_PIT, {"excavation_depth_m": 2.99}, Classification.NONE),
    (Kind.FOUNDATION_PIT, {"excavation_depth_m": 3.0}, Classification.MAJOR),
    (Kind.FOUNDATION_PIT, {"excavation_depth_m": 4.99}, Classification.MAJOR),
    (Kind.FOUNDATION_PIT, {"excavation_depth_m": 5.0}, Classification.BEYOND_SCALE),
    (Kind.FOUNDATION_PIT, {"excavation_depth_m": 2.0, "complex_conditions": True}, Classification.BEYOND_SCALE),
    (Kind.FORMWORK_SUPPORT, {"height_m": 4.9, "span_m": 9.9, "load_kn_m2": 9.9, "line_load_kn_m": 14.9}, Classification.NONE),
    (Kind.FORMWORK_SUPPORT, {"height_m": 5.0}, Classification.MAJOR),
    (Kind.FORMWORK_SUPPORT, {"span_m": 18.0}, Classification.BEYOND_SCALE),
    (Kind.FORMWORK_SUPPORT, {"load_kn_m2": 15.0}, Classification.BEYOND_SCALE),
    (Kind.FORMWORK_SUPPORT, {"line_load_kn_m": 15.0}, Classification.MAJOR),
    (Kind.FORMWORK_SUPPORT, {"line_load_kn_m": 20.0}, Classification.BEYOND_SCALE),
    (Kind.SCAFFOLDING, {"height_m": 24.0}, Classification.MAJOR),
    (Kind.SCAFFOLDING, {"height_m": 50.0}, Classification.BEYOND_SCALE),
    (Kind.TOOL_FORMWORK, {}, Classification.BEYOND_SCALE),
])
async def test_classification_per_31(kind, params, expected):  # noqa: ANN001
    assert classify(kind, params).classification == expected


async def test_registry_roles_plan_and_threshold_sources(api):
    toks = await tokens(api)
    pid = await project_id(api, toks["lead_wang"])
    body = {"project_id": pid, "name": "1#基坑", "kind": "foundation_pit", "parameters": {"excavation_depth_m": 12}}
    # An inspector of another district may not register; the project's lead may.
    assert_error(await api.post("/api/v1/monitoring/works", json=body, headers=toks["lw_inspector"]), 403,
                 "FORBIDDEN_DISTRICT")
    assert_error(await api.post("/api/v1/monitoring/works", json={**body, "parameters": {"height_m": 3}},
                                headers=toks["lead_wang"]), 400, "WORK_PARAMETERS")
    resp = await api.post("/api/v1/monitoring/works", json=body, headers=toks["lead_wang"])
    assert resp.status_code == 201, resp.text
    work = resp.json()
    assert work["classification"] == "beyond_scale" and work["needs_expert_review"]
    wid = work["id"]
    assert (await api.get(f"/api/v1/monitoring/works/{wid}", headers=toks["lw_inspector"])).status_code == 403
    assert (await api.get(f"/api/v1/monitoring/works/{wid}", headers=toks["lc_inspector"])).status_code == 200
    point = (await api.post(f"/api/v1/monitoring/works/{wid}/points", json={"code": "DB-1"},
                            headers=toks["lead_wang"])).json()
    # No sensor before the plan is approved.
    assert_error(await api.post(f"/api/v1/monitoring/points/{point['id']}/sensors", json={"metric": "deep_horizontal"},
                                headers=toks["lead_wang"]), 409, "PLAN_NOT_APPROVED")
    plan = {"plan_no": "ZX-01", "alarm_values": {"deep_horizontal": {"cumulative_abs": 35}}}
    assert_error(await api.post(f"/api/v1/monitoring/works/{wid}/plan", json={**plan, "alarm_values": {"x": {}}},
                                headers=toks["lead_wang"]), 400, "METRIC_UNKNOWN")
    assert (await api.post(f"/api/v1/monitoring/works/{wid}/plan", json=plan, headers=toks["lead_wang"])).status_code == 200
    # The lead cannot approve their own plan; beyond scale needs the expert review.
    assert_error(await api.post(f"/api/v1/monitoring/works/{wid}/plan/approve", json={}, headers=toks["lead_wang"]),
                 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(f"/api/v1/monitoring/works/{wid}/plan/approve", json={}, headers=toks["sup_li"]),
                 400, "EXPERT_REVIEW_REQUIRED")
    ok = await api.post(f"/api/v1/monitoring/works/{wid}/plan/approve", json={"expert_review": "论证通过"},
                        headers=toks["sup_li"])
    assert ok.status_code == 200 and ok.json()["plan_status"] == "approved"
    sensor = await api.post(f"/api/v1/monitoring/points/{point['id']}/sensors", json={"metric": "deep_horizontal"},
                            headers=toks["lead_wang"])
    assert sensor.status_code == 201, sensor.text
    s = sensor.json()
    # The plan's 35 mm; the gaps (%H, rate, warning ratio) filled from the defaults and marked so.
    assert s["thresholds"]["cumulative_abs"] == 35 and s["threshold_sources"]["cumulative_abs"] == "plan"
    assert s["threshold_sources"]["rate_per_day"] == "default" and s["thresholds"]["source"] == "default"
    assert s["thresholds"]["design_depth"] == 12000
    assert s["topic"] == f"zhijian/v1/{pid}/{s['id']}/telemetry"
    assert_error(await api.post(f"/api/v1/monitoring/points/{point['id']}/sensors", json={"metric": "deep_horizontal"},
                                headers=toks["lead_wang"]), 409, "SENSOR_DUPLICATE")
    assert_error(await api.post(f"/api/v1/monitoring/points/{point['id']}/sensors",
                                json={"metric": "support_axial_force"}, headers=toks["lead_wang"]), 400, "NO_ALARM_VALUE")
    # Only staff delete; a new citizen sees nothing.
    assert_error(await api.delete(f"/api/v1/monitoring/works/{wid}", headers=toks["lead_wang"]), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/monitoring/alarms", headers=toks["lead_wang"]), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/monitoring/alarms", params={"district": 330303}, headers=toks["lc_inspector"]),
                 403, "FORBIDDEN_DISTRICT")


async def test_alarm_ack_clear_comment_and_series(api, app, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})

    async def open_alarm():
        rows = (await api.get("/mp/v1/monitoring/alarms", headers=toks["lead_wang"])).json()
        return [a for a in rows if a["sensor_id"] == s["id"]]

    [alarm] = await eventually(open_alarm, timeout=30)
    aid = alarm["id"]
    assert alarm["level"] == 2 and alarm["level_zh"] == "报警"
    # The district's staff see it; another district's do not; the escalation chain is running.
    district = (await api.get("/api/v1/monitoring/alarms", headers=toks["lc_inspector"])).json()
    assert aid in [a["id"] for a in district]
    assert_error(await api.get(f"/api/v1/monitoring/alarms/{aid}", headers=toks["lw_inspector"]), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.post(f"/mp/v1/monitoring/alarms/{aid}/ack", json={}, headers=toks["lw_inspector"]), 403,
                 "FORBIDDEN_DISTRICT")
    async def chain_running():  # the chain commits with the alarm's pushes, just after the alarm itself
        return await Escalation.count().where((Escalation.subject_id == aid) & (Escalation.status == "active")) == 1

    assert await eventually(chain_running, timeout=10)
    resp = await api.post(f"/mp/v1/monitoring/alarms/{aid}/ack", json={"note": "已到现场"}, headers=toks["lead_wang"])
    assert resp.status_code == 200 and resp.json()["alarm"]["status"] == "acknowledged"
    assert await Escalation.count().where((Escalation.subject_id == aid) & (Escalation.status == "active")) == 0
    assert_error(await api.post(f"/mp/v1/monitoring/alarms/{aid}/ack", json={}, headers=toks["lead_wang"]), 409,
                 "ALARM_STATE")
    resp = await api.post(f"/api/v1/monitoring/alarms/{aid}/comments", json={"note": "加密监测频率"}, headers=toks["sup_li"])
    assert resp.status_code == 200
    # The regulated party cannot clear a structural alarm; the supervisor can (issue 18).
    assert_error(await api.post(f"/mp/v1/monitoring/alarms/{aid}/clear", json={"note": "已加固"},
                                headers=toks["lead_wang"]), 403, "ALARM_CLEAR_NEEDS_SUPERVISOR")
    resp = await api.post(f"/mp/v1/monitoring/alarms/{aid}/clear", json={"note": "已加固"}, headers=toks["sup_li"])
    assert resp.json()["alarm"]["status"] == "cleared"
    assert [e["kind"] for e in resp.json()["events"]] == ["raised", "acknowledged", "comment", "cleared"]
    assert_error(await api.post(f"/api/v1/monitoring/alarms/{uuid.uuid4()}/ack", json={}, headers=toks["lead_wang"]),
                 404, "ALARM_NOT_FOUND")
    series = await api.get(f"/api/v1/monitoring/sensors/{s['id']}/series", headers=toks["lc_inspector"], params={
        "start": reading(0, 0)["ts"], "end": reading(24, 0)["ts"], "buckets": 12})
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["bucket_s"] == 7200 and sum(p["n"] for p in body["points"]) == 3
    assert max(p["max"] for p in body["points"]) == 12.0
    assert (await api.get(f"/api/v1/monitoring/sensors/{s['id']}/series",
                          headers=toks["lw_inspector"])).status_code == 403
