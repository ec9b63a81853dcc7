"""An alarm left unacknowledged past its deadline costs the general contractor credit — once, and only then."""

from __future__ import annotations

import pytest

from backend.monitoring.jobs import alarm_ack_overdue
from backend.monitoring.tables import AlarmEvent
from backend.settings import get_settings
from tests.monitoring.helpers import make_sensor, reading, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def _open_alarm(api, toks, sensor_id: str, status: str | None = None) -> dict:  # noqa: ANN001
    async def found():
        rows = (await api.get("/mp/v1/monitoring/alarms", headers=toks["lead_wang"])).json()
        return [a for a in rows if a["sensor_id"] == sensor_id and status in (None, a["status"])]

    [alarm] = await eventually(found, timeout=30)
    return alarm


async def _gc_credit(api, toks, project_id: str) -> list[dict]:  # noqa: ANN001
    project = (await api.get(f"/api/v1/projects/{project_id}", headers=toks["admin"])).json()
    [gc] = [p for p in project["parties"] if p["role"] == "general_contractor"]
    resp = await api.get(f"/api/v1/credit/enterprises/{gc['enterprise_id']}", headers=toks["admin"])
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _age(alarm_id: str, seconds: float) -> None:
    """Arrange: the alarm has waited this long (its events moved back in time)."""
    await AlarmEvent.raw("UPDATE monitoring_alarm_events SET at = at - {} * interval '1 second' WHERE alarm = {}::uuid",
                         seconds, alarm_id)


async def test_unacknowledged_past_deadline_costs_the_contractor_once(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    ctx = {"settings": get_settings(), "redis": None}
    evidence = f"alarm:{alarm['id']}"

    def deductions(data: dict) -> list[dict]:
        return [e for e in data["events"] if e["evidence"] == evidence]

    # Within the deadline: nothing.
    await alarm_ack_overdue(ctx)
    before = await _gc_credit(api, toks, s["project_id"])
    assert deductions(before) == []
    # Past it: one event of −4 against the general contractor, and one on the alarm's timeline.
    await _age(alarm["id"], get_settings().MONITORING_ACK_DEADLINE_S + 60)
    assert await alarm_ack_overdue(ctx) >= 1
    after = await _gc_credit(api, toks, s["project_id"])
    [event] = deductions(after)
    assert event["kind"] == "alarm_unacknowledged" and event["points"] == -4
    assert event["project_id"] == s["project_id"]
    assert after["status"]["score"] == pytest.approx(before["status"]["score"] - 4, abs=0.01)
    detail = (await api.get(f"/api/v1/monitoring/alarms/{alarm['id']}", headers=toks["lc_inspector"])).json()
    assert [e["kind"] for e in detail["events"]].count("ack_overdue") == 1
    # Again: no second deduction for the same alarm.
    await alarm_ack_overdue(ctx)
    again = await _gc_credit(api, toks, s["project_id"])
    assert len(deductions(again)) == 1 and again["status"]["score"] == pytest.approx(after["status"]["score"], abs=0.01)


async def test_acknowledged_in_time_costs_nothing_until_reopened(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    resp = await api.post(f"/mp/v1/monitoring/alarms/{alarm['id']}/ack", json={"note": "已到现场"},
                          headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    await _age(alarm["id"], get_settings().MONITORING_ACK_DEADLINE_S * 3)
    await alarm_ack_overdue({"settings": get_settings(), "redis": None})
    data = await _gc_credit(api, toks, s["project_id"])
    assert [e for e in data["events"] if e["evidence"] == f"alarm:{alarm['id']}"] == []
    # A higher level re-opens it: the wait starts again from then, not from the first raise.
    publisher.send(s["topic"], {"readings": [reading(21, 20.0)]})
    assert (await _open_alarm(api, toks, s["id"], "active_unacknowledged"))["id"] == alarm["id"]
    await alarm_ack_overdue({"settings": get_settings(), "redis": None})
    data = await _gc_credit(api, toks, s["project_id"])
    assert [e for e in data["events"] if e["evidence"] == f"alarm:{alarm['id']}"] == []
    await _age(alarm["id"], get_settings().MONITORING_ACK_DEADLINE_S + 60)
    await alarm_ack_overdue({"settings": get_settings(), "redis": None})
    data = await _gc_credit(api, toks, s["project_id"])
    assert [e["kind"] for e in data["events"] if e["evidence"] == f"alarm:{alarm['id']}"] == ["alarm_unacknowledged"]
