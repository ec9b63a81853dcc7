"""The SLA clock through the real worker: timers fire in order, resolving stops them, nothing is lost."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend.complaints.tables import Complaint, Event
from backend.notifications.tables import Notification
from backend.timers.tables import DueTimer
from tests.complaints.helpers import photo, report
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

FAST = {"ZHIJIAN_RECONCILE_EVERY_S": "2", "ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5"}
SLA_S = 6.0


async def _fast_category(api, admin) -> str:
    code = f"fast_{uuid.uuid4().hex[:8]}"
    resp = await api.put(f"/api/v1/complaints/categories/{code}", json={"name": "测试快速", "sla_hours": SLA_S / 3600}, headers=admin)
    assert resp.status_code == 200, resp.text
    return code


async def _sla_events(cid: str) -> list[str]:
    rows = await Event.select(Event.kind).where(
        (Event.complaint == uuid.UUID(cid)) & Event.kind.is_in(["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"])
    ).order_by(Event.id)
    return [r["kind"] for r in rows]


async def test_timers_fire_in_order_and_breach_escalates(api, admin, start_worker):
    start_worker(FAST)
    category = await _fast_category(api, admin)
    _, complaint = await report(api, admin, 330302, category=category)
    cid = complaint["id"]

    async def breached():
        return len(await _sla_events(cid)) == 4

    assert await eventually(breached, timeout=SLA_S + 10)
    assert await _sla_events(cid) == ["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"]
    row = await Complaint.select().where(Complaint.id == uuid.UUID(cid)).first()
    assert row["overdue"] is True and row["overdue_at"] >= row["deadline_at"]
    timers = await DueTimer.select().where((DueTimer.kind == "complaint_sla") & DueTimer.key.like(f"{cid}:%"))
    assert len(timers) == 4
    for t in timers:
        assert t["fired_at"] is not None and 0 <= (t["fired_at"] - t["due_at"]).total_seconds() < 3
    # The breach reached the district's regulator admins (the station chief), not only the inspector.
    told = await Notification.select(Notification.recipient, Notification.dedup_key).where(
        Notification.dedup_key == f"sla:{cid}:breach:1"
    )
    lc_admin_id = (await api.get("/api/v1/users?role=regulator_admin&district_adcode=330302", headers=admin)).json()["items"][0]["id"]
    assert lc_admin_id in {str(t["recipient"]) for t in told}
    overdue = (await api.get("/api/v1/complaints/overdue?district_adcode=330302", headers=admin)).json()
    assert cid in {str(o["id"]) for o in overdue}


async def test_resolving_stops_the_clock(api, admin, start_worker):
    start_worker(FAST)
    category = await _fast_category(api, admin)
    _, complaint = await report(api, admin, 330302, category=category)
    cid = complaint["id"]
    await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)
    after = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="complaint_result")
    resp = await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "当场整改完毕", "photo_ids": [after]}, headers=admin)
    assert resp.status_code == 200
    await asyncio.sleep(SLA_S + 2)
    assert await _sla_events(cid) == []
    row = await Complaint.select().where(Complaint.id == uuid.UUID(cid)).first()
    assert row["overdue"] is False and row["status"] == "resolved"


async def test_redis_flush_and_worker_kill_lose_no_timer(api, admin, redis_db, start_worker):
    worker = start_worker(FAST)
    category = await _fast_category(api, admin)
    _, complaint = await report(api, admin, 330303, category=category)
    cid = complaint["id"]

    async def first_fired():
        return (await _sla_events(cid))[:1] == ["sla_remind_1"]

    assert await eventually(first_fired, timeout=10)
    worker.kill()
    redis_db.flushdb()  # every queued timer job is gone
    await asyncio.sleep(1)
    start_worker(FAST)

    async def all_fired():
        return len(await _sla_events(cid)) == 4

    assert await eventually(all_fired, timeout=SLA_S + 10)
    assert await _sla_events(cid) == ["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"]  # each once


async def test_new_complaint_is_pushed_to_its_inspector_by_the_worker(api, admin, start_worker):
    start_worker(FAST)
    pair, complaint = await report(api, admin, 330381)
    staff = (await api.get(f"/api/v1/complaints/{complaint['id']}", headers=admin)).json()
    assert staff["assignee_id"]

    async def told():
        return await Notification.select(Notification.template).where(
            (Notification.recipient == uuid.UUID(staff["assignee_id"])) & (Notification.subject_id == complaint["id"])
        ).first()

    row = await eventually(told, timeout=10)
    assert row and row["template"] == "complaint_assigned"
    citizen_inbox = (await api.get("/mp/v1/inbox", headers={"Authorization": f"Bearer {pair['access_token']}"})).json()
    assert any(i["subject_id"] == complaint["id"] for i in citizen_inbox["items"])
