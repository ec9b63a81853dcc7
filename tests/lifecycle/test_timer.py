"""The inspection-answer timer: reminders to the supervisors, escalation to the station, once each; late answers."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest

from backend.lifecycle import inspections
from backend.materials.tables import CreditEvent
from backend.notifications.tables import Notification
from backend.settings import get_settings
from tests.lifecycle.helpers import SUPERVISION, enterprise, inspection, people, planned_project

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _told(request_id: str, step: str) -> set[str]:
    rows = await Notification.select(Notification.recipient).where(
        Notification.dedup_key == f"inspection:{request_id}:{step}")
    return {str(r["recipient"]) for r in rows}


async def test_overdue_answers_are_reminded_then_escalated_once(api, admin):
    p = await people(api)
    settings = get_settings()
    project = await planned_project(api, admin, status="under_construction")
    req = (await inspection(api, project, p["lead_wang"], "foundation", "独立基础钢筋")).json()
    due = datetime.fromisoformat(req["due_at"])
    assert timedelta(seconds=settings.INSPECTION_ANSWER_S - 60) < due - datetime.fromisoformat(req["submitted_at"]) \
        <= timedelta(seconds=settings.INSPECTION_ANSWER_S)
    sup_id = (await api.get("/api/v1/me", headers=p["sup_li"])).json()["id"]
    station_id = (await api.get("/api/v1/me", headers=p["lc_inspector"])).json()["id"]
    assert sup_id in await _told(req["id"], "submitted")

    # Not yet due: nothing happens (a moment before the boundary).
    await inspections.remind_overdue(due - timedelta(seconds=1), settings=settings, arq=None)
    assert await _told(req["id"], "reminded") == set()
    # Due: the supervisors are reminded, once however often the timer runs.
    await inspections.remind_overdue(due + timedelta(seconds=1), settings=settings, arq=None)
    await inspections.remind_overdue(due + timedelta(seconds=2), settings=settings, arq=None)
    assert sup_id in await _told(req["id"], "reminded")
    assert await _told(req["id"], "escalated") == set()
    # Still unanswered after the escalation time: the station is told, once.
    later = due + timedelta(seconds=settings.INSPECTION_ESCALATE_AFTER_S + 1)
    await inspections.remind_overdue(later, settings=settings, arq=None)
    await inspections.remind_overdue(later + timedelta(minutes=5), settings=settings, arq=None)
    assert station_id in await _told(req["id"], "escalated")
    got = (await api.get(f"/api/v1/inspection-requests/{req['id']}", headers=p["lc_inspector"])).json()
    assert [e["kind"] for e in got["events"]] == ["submitted", "reminded", "escalated"]
    # An answered request is no longer chased.
    other = (await inspection(api, project, p["lead_wang"], "foundation", "地梁钢筋")).json()
    await api.post(f"/api/v1/inspection-requests/{other['id']}/answer", json={"passed": True}, headers=p["sup_li"])
    await inspections.remind_overdue(later, settings=settings, arq=None)
    assert await _told(other["id"], "reminded") == set()


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
