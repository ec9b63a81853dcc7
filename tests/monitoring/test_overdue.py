"""An alarm left unacknowledged past its deadline costs the general contractor credit — once, and only then.

The deadline is a durable timer (kind ``alarm_ack_overdue``) set by the iot worker when the alarm enters
active_unacknowledged and fired by the real ARQ worker; both run here with a 6-second deadline.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from backend.timers.tables import DueTimer
from tests.monitoring.helpers import make_sensor, reading, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

DEADLINE_S = 6.0
ENV = {"ZHIJIAN_MONITORING_ACK_DEADLINE_S": str(DEADLINE_S)}
ARQ_ENV = {**ENV, "ZHIJIAN_RECONCILE_EVERY_S": "2", "ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5"}


async def _open_alarm(api, toks, sensor_id: str, status: str | None = None) -> dict:  # noqa: ANN001
    async def found():
        rows = (await api.get("/mp/v1/monitoring/alarms", headers=toks["lead_wang"])).json()
        return [a for a in rows if a["sensor_id"] == sensor_id and status in (None, a["status"])]

    [alarm] = await eventually(found, timeout=30)
    return alarm


async def _deductions(api, toks, project_id: str, alarm_id: str) -> tuple[list[dict], float]:  # noqa: ANN001
    project = (await api.get(f"/api/v1/projects/{project_id}", headers=toks["admin"])).json()
    [gc] = [p for p in project["parties"] if p["role"] == "general_contractor"]
    resp = await api.get(f"/api/v1/credit/enterprises/{gc['enterprise_id']}", headers=toks["admin"])
    assert resp.status_code == 200, resp.text
    data = resp.json()
    return [e for e in data["events"] if e["evidence"] == f"alarm:{alarm_id}"], data["status"]["score"]


async def _timer(alarm_id: str) -> dict | None:
    return await DueTimer.select().where((DueTimer.kind == "alarm_ack_overdue") & (DueTimer.key == alarm_id)).first()


async def test_unacknowledged_past_deadline_costs_the_contractor_once(api, start_iot, start_worker, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot(ENV)
    start_worker(ARQ_ENV)
    _, score_before = await _deductions(api, toks, s["project_id"], "none")
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    # The deadline is a timer set in the alarm's own transaction: due DEADLINE_S after the raise.
    timer = await _timer(alarm["id"])
    assert timer is not None and timer["status"] == "scheduled"
    raised = (await api.get(f"/api/v1/monitoring/alarms/{alarm['id']}", headers=toks["lc_inspector"])).json()
    first_at = next(e for e in raised["events"] if e["kind"] == "raised")["at"]
    assert abs((timer["due_at"].timestamp() - _ts(first_at)) - DEADLINE_S) < 0.01
    # Within the deadline: nothing.
    assert (await _deductions(api, toks, s["project_id"], alarm["id"]))[0] == []

    async def deducted():
        got, _ = await _deductions(api, toks, s["project_id"], alarm["id"])
        return got

    # Past it: one event of −4 against the general contractor, and one on the alarm's timeline.
    [event] = await eventually(deducted, timeout=DEADLINE_S + 20)
    assert event["kind"] == "alarm_unacknowledged" and event["points"] == -4
    assert event["project_id"] == s["project_id"]
    assert (await _timer(alarm["id"]))["status"] == "fired"
    detail = (await api.get(f"/api/v1/monitoring/alarms/{alarm['id']}", headers=toks["lc_inspector"])).json()
    assert [e["kind"] for e in detail["events"]].count("ack_overdue") == 1
    # Later: still one deduction for this alarm, the score lowered by exactly 4.
    await asyncio.sleep(3)
    again, score = await _deductions(api, toks, s["project_id"], alarm["id"])
    assert len(again) == 1 and score == pytest.approx(score_before - 4, abs=0.01)


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def test_acknowledged_in_time_costs_nothing_until_reopened(api, start_iot, start_worker, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot(ENV)
    start_worker(ARQ_ENV)
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    resp = await api.post(f"/mp/v1/monitoring/alarms/{alarm['id']}/ack", json={"note": "已到现场"},
                          headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    assert (await _timer(alarm["id"]))["status"] == "cancelled"  # acknowledged: no deadline any more
    await asyncio.sleep(DEADLINE_S + 3)
    assert (await _deductions(api, toks, s["project_id"], alarm["id"]))[0] == []
    # A higher level re-opens it: the wait starts again from then, not from the first raise.
    reopened_at = time.time()
    publisher.send(s["topic"], {"readings": [reading(21, 20.0)]})
    assert (await _open_alarm(api, toks, s["id"], "active_unacknowledged"))["id"] == alarm["id"]
    timer = await _timer(alarm["id"])
    assert timer["status"] == "scheduled" and timer["due_at"].timestamp() >= reopened_at + DEADLINE_S - 0.5

    async def deducted():
        got, _ = await _deductions(api, toks, s["project_id"], alarm["id"])
        return got

    got = await eventually(deducted, timeout=DEADLINE_S + 20)
    assert [e["kind"] for e in got] == ["alarm_unacknowledged"]
    assert time.time() >= reopened_at + DEADLINE_S


async def test_cleared_alarm_has_no_deadline(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot(ENV)
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    resp = await api.post(f"/api/v1/monitoring/alarms/{alarm['id']}/clear", json={"note": "已处置"},
                          headers=toks["lc_inspector"])
    assert resp.status_code == 200, resp.text
    assert (await _timer(alarm["id"]))["status"] == "cancelled"


async def test_alarm_opened_without_a_timer_gets_one_when_the_worker_starts(api, start_iot, start_worker, publisher):
    """An alarm opened before the deadline timers existed (its timer row absent) is backfilled at the ARQ
    worker's start, due from when it entered active_unacknowledged, and costs the contractor once."""
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot(ENV)
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})
    alarm = await _open_alarm(api, toks, s["id"])
    await DueTimer.delete().where((DueTimer.kind == "alarm_ack_overdue") & (DueTimer.key == alarm["id"]))
    start_worker(ARQ_ENV)
    timer = await _timer(alarm["id"])
    assert timer is not None

    async def deducted():
        got, _ = await _deductions(api, toks, s["project_id"], alarm["id"])
        return got

    assert [e["kind"] for e in await eventually(deducted, timeout=DEADLINE_S + 20)] == ["alarm_unacknowledged"]
