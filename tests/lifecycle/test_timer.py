"""The inspection-answer timer: reminders to the supervisors, escalation to the station, once each; late answers."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest

from backend.materials.tables import CreditEvent
from backend.notifications.tables import Notification
from backend.timers.tables import DueTimer
from tests.lifecycle.helpers import SUPERVISION, enterprise, inspection, people, planned_project
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _told(request_id: str, step: str) -> set[str]:
    rows = await Notification.select(Notification.recipient).where(
        Notification.dedup_key == f"inspection:{request_id}:{step}")
    return {str(r["recipient"]) for r in rows}


# The reconciler at its default minute: the timers must fire on time through their own deferred jobs.
FAST = {"ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5"}
ANSWER_S, ESCALATE_S = 2.0, 2.0


async def _timers(request_id: str) -> dict[str, dict]:
    rows = await DueTimer.select().where((DueTimer.kind == "inspection_answer")
                                         & DueTimer.key.like(f"{request_id}:%"))
    return {r["key"].split(":")[1]: r for r in rows}


async def test_overdue_answers_are_reminded_then_escalated_once_by_the_timer_service(api, admin, start_worker):
    p = await people(api)
    project = await planned_project(api, admin, status="under_construction")
    state = api.app.state
    original = state.settings
    state.settings = dataclasses.replace(original, INSPECTION_ANSWER_S=ANSWER_S, INSPECTION_ESCALATE_AFTER_S=ESCALATE_S)
    try:
        req = (await inspection(api, project, p["lead_wang"], "foundation", "独立基础钢筋")).json()
        other = (await inspection(api, project, p["lead_wang"], "foundation", "地梁钢筋")).json()
    finally:
        state.settings = original
    due = datetime.fromisoformat(req["due_at"])
    assert timedelta(seconds=ANSWER_S - 1) < due - datetime.fromisoformat(req["submitted_at"]) \
        <= timedelta(seconds=ANSWER_S)
    # Submitting scheduled the deadline's two timers: the reminder at the due time, the escalation after it.
    steps = await _timers(req["id"])
    assert {k: (v["status"], v["due_at"]) for k, v in steps.items()} == {
        "remind": ("scheduled", due), "escalate": ("scheduled", due + timedelta(seconds=ESCALATE_S))}
    sup_id = (await api.get("/api/v1/me", headers=p["sup_li"])).json()["id"]
    station_id = (await api.get("/api/v1/me", headers=p["lc_inspector"])).json()["id"]
    assert sup_id in await _told(req["id"], "submitted")
    # Answering cancels its timers in the same transaction: an answered request is never chased.
    answered = await api.post(f"/api/v1/inspection-requests/{other['id']}/answer", json={"passed": True},
                              headers=p["sup_li"])
    assert answered.status_code == 200, answered.text
    assert {v["status"] for v in (await _timers(other["id"])).values()} == {"cancelled"}

    start_worker(FAST)

    async def escalated():
        return station_id in await _told(req["id"], "escalated")

    assert await eventually(escalated, timeout=ANSWER_S + ESCALATE_S + 15)
    assert sup_id in await _told(req["id"], "reminded")
    fired = await _timers(req["id"])
    for step in ("remind", "escalate"):  # each fired once, on time (not a minute cron's later tick)
        assert fired[step]["status"] == "fired"
        assert 0 <= (fired[step]["fired_at"] - fired[step]["due_at"]).total_seconds() < 3
    got = (await api.get(f"/api/v1/inspection-requests/{req['id']}", headers=p["lc_inspector"])).json()
    assert [e["kind"] for e in got["events"]] == ["submitted", "reminded", "escalated"]
    assert got["late"] is True
    # Once each: the reconciler keeps running, nothing is told twice.
    await asyncio.sleep(2.5)
    for step in ("reminded", "escalated"):
        assert await Notification.count().where(Notification.dedup_key == f"inspection:{req['id']}:{step}") == \
            len(await _told(req["id"], step))
    assert await _told(other["id"], "reminded") == set() and await _told(other["id"], "escalated") == set()


async def test_an_answer_after_the_time_limit_is_late_and_counted(api, admin):
    p = await people(api)
    project = await planned_project(api, admin, status="under_construction")
    state = api.app.state
    original = state.settings
    state.settings = dataclasses.replace(original, INSPECTION_ANSWER_S=0.5)  # the configurable limit, short
    try:
        req = (await inspection(api, project, p["lead_wang"], "structure", "三层梁板钢筋")).json()
        quick = (await inspection(api, project, p["lead_wang"], "structure", "三层柱钢筋")).json()
        state.settings = original
        assert (await api.post(f"/api/v1/inspection-requests/{quick['id']}/answer", json={"passed": True},
                               headers=p["sup_li"])).json()["late"] is False
        await asyncio.sleep(0.7)
        assert (await api.get(f"/api/v1/inspection-requests/{req['id']}", headers=p["lead_wang"])).json()["late"] is True
        answered = await api.post(f"/api/v1/inspection-requests/{req['id']}/answer", json={"passed": True},
                                  headers=p["sup_li"])
        assert answered.status_code == 200 and answered.json()["late"] is True, answered.text
    finally:
        state.settings = original
    rows = await CreditEvent.select().where(CreditEvent.evidence.like("inspection:%:late")
                                            & (CreditEvent.project == project["id"]))
    assert [(str(r["enterprise"]), r["kind"]) for r in rows] == [
        (await enterprise(api, admin, SUPERVISION), "inspection_answer_late")]
