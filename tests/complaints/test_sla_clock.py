"""The SLA clock's rules (issue 16): stage times pinned, one "overdue", pause/resume, breach kept, who is told.

Pure rules are table-driven; the rest runs through the API and the real worker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts.tables import User
from backend.complaints.rules import SLA_STAGES, deadline, effective_deadline, is_overdue, sla_schedule
from backend.complaints.tables import Complaint, Event
from backend.notifications.tables import Notification
from backend.timers.tables import DueTimer
from tests.complaints.helpers import photo, report
from tests.support.api import bearer
from tests.support.workers import eventually

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
H = 3600.0
FAST = {"ZHIJIAN_RECONCILE_EVERY_S": "2", "ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5", "ZHIJIAN_OUTBOX_POLL_S": "0.2"}


# --- pure rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paused_s", "expected_hours"),
    [
        (0.0, {"remind_1": 24, "remind_2": 48, "warning": 66, "breach": 72}),
        (5 * H, {"remind_1": 29, "remind_2": 53, "warning": 71, "breach": 77}),
    ],
)
def test_each_stage_due_time_is_pinned(paused_s, expected_hours):
    """72 h SLA: reminders at 24 h and 48 h, the warning at 66 h, the breach at 72 h (moving any one fails)."""
    due = {d.stage: d.at for d in sla_schedule(T0, 72 * H, paused_s)}
    assert due == {stage: T0 + timedelta(hours=h) for stage, h in expected_hours.items()}
    assert due["breach"] == deadline(T0, 72 * H, paused_s)
    assert [s for s, _ in SLA_STAGES] == ["remind_1", "remind_2", "warning", "breach"]


@pytest.mark.parametrize(
    ("status", "deadline_h", "paused_h", "now_h", "overdue"),
    [
        ("accepted", 72, None, 71.99, False),   # just before the deadline
        ("accepted", 72, None, 72, False),      # at it: not yet
        ("accepted", 72, None, 72.01, True),    # just after
        ("reopened", 72, None, 80, True),
        ("waiting_info", 72, 70, 80, False),    # paused before the deadline: the pause does not count
        ("waiting_info", 72, 73, 80, True),     # paused after it: already overdue
        ("resolved", 72, None, 80, False),      # handled: not open
        ("closed", 72, None, 80, False),
        ("rejected", 72, None, 80, False),
    ],
)
def test_one_definition_of_overdue(status, deadline_h, paused_h, now_h, overdue):
    at = lambda h: T0 + timedelta(hours=h)  # noqa: E731
    paused = at(paused_h) if paused_h is not None else None
    assert is_overdue(status, at(deadline_h), paused, at(now_h)) is overdue
    if paused is not None:  # the deadline shown while paused moves with the pause
        assert effective_deadline(at(deadline_h), paused, at(now_h)) == at(deadline_h) + (at(now_h) - paused)


# --- through the API -------------------------------------------------------------------------------


async def _category(api, admin, sla_s: float) -> str:
    code = f"clk_{uuid.uuid4().hex[:8]}"
    resp = await api.put(f"/api/v1/complaints/categories/{code}", json={"name": "时限测试", "sla_hours": sla_s / H},
                         headers=admin)
    assert resp.status_code == 200, resp.text
    return code


@pytest.mark.asyncio
async def test_dashboard_queue_overdue_list_views_and_open311_agree(api, admin):
    category = await _category(api, admin, 8.0)
    pair_a, a = await report(api, admin, 330302, category=category)  # stays open: overdue
    pair_b, b = await report(api, admin, 330302, category=category)  # paused before its deadline: not overdue
    _, c = await report(api, admin, 330302, category=category)       # resolved in time: not overdue
    for cid in (a["id"], b["id"], c["id"]):
        assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)).status_code == 200
    resp = await api.post(f"/api/v1/complaints/{b['id']}/request-info", json={"reason": "请补充楼层"}, headers=admin)
    assert resp.status_code == 200
    after = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="complaint_result")
    resp = await api.post(f"/api/v1/complaints/{c['id']}/resolve", json={"notes": "已当场整改完毕", "photo_ids": [after]}, headers=admin)
    assert resp.status_code == 200, resp.text
    last = max(datetime.fromisoformat(x["deadline_at"]) for x in (a, b, c))
    assert datetime.now(UTC) < datetime.fromisoformat(b["deadline_at"])  # b was paused before its deadline
    await asyncio.sleep((last - datetime.now(UTC)).total_seconds() + 0.5)  # every deadline has passed (no worker ran)

    ours = {a["id"], b["id"], c["id"]}
    queue = (await api.get(f"/api/v1/complaints?overdue=true&category={category}", headers=admin)).json()
    assert {i["id"] for i in queue["items"]} == {a["id"]}
    not_overdue = (await api.get(f"/api/v1/complaints?overdue=false&category={category}", headers=admin)).json()
    assert {i["id"] for i in not_overdue["items"]} == {b["id"], c["id"]}
    listed = (await api.get("/api/v1/complaints/overdue?district_adcode=330302", headers=admin)).json()
    assert {str(o["id"]) for o in listed} & ours == {a["id"]}
    figures = (await api.get(f"/api/v1/complaints/dashboard?category={category}", headers=admin)).json()
    assert figures["overdue_open"] == 1
    views = {cid: (await api.get(f"/api/v1/complaints/{cid}", headers=admin)).json() for cid in ours}
    assert {cid for cid, v in views.items() if v["overdue"]} == {a["id"]}
    # Open311 shows the paused case's deadline moved by the running pause.
    key = (await api.post("/api/v1/api-keys", json={"name": "12345热线", "department": "市12345",
                                                     "scopes": ["complaints:read"]}, headers=admin)).json()["key"]
    o311 = (await api.get(f"/open311/v2/requests/{b['id']}.json", params={"api_key": key})).json()[0]
    assert datetime.fromisoformat(o311["expected_datetime"]) > datetime.fromisoformat(b["deadline_at"]) + timedelta(seconds=0.4)


async def _timers(cid: str) -> list[dict]:
    """The SLA timers of the complaint's first clock (clock 0)."""
    return await DueTimer.select().where((DueTimer.kind == "complaint_sla") & DueTimer.key.like(f"{cid}:%:0"))


async def _stage_events(cid: str) -> list[str]:
    rows = await Event.select(Event.kind).where(
        (Event.complaint == uuid.UUID(cid)) & Event.kind.like("sla_%")).order_by(Event.id)
    return [r["kind"] for r in rows]


@pytest.mark.asyncio
async def test_pause_moves_only_unfired_stages_and_a_breach_stays_a_breach(api, admin, start_worker):
    sla_s = 8.0
    category = await _category(api, admin, sla_s)
    start_worker(FAST)
    pair, complaint = await report(api, admin, 330302, category=category)
    cid = complaint["id"]
    row = await Complaint.select().where(Complaint.id == uuid.UUID(cid)).first()
    # The stages of the first clock, pinned to the SLA's fractions of the clock start.
    first = {t["key"].split(":")[1]: (t["due_at"] - row["clock_started_at"]).total_seconds()
             for t in await _timers(cid)}
    assert first == pytest.approx({"remind_1": sla_s / 3, "remind_2": 2 * sla_s / 3, "warning": 66 / 72 * sla_s,
                                   "breach": sla_s}, abs=1e-3)
    await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)

    async def reminded():
        return "sla_remind_1" in await _stage_events(cid)

    assert await eventually(reminded, timeout=sla_s)
    paused = await api.post(f"/api/v1/complaints/{cid}/request-info", json={"reason": "请补充位置"}, headers=admin)
    assert paused.status_code == 200
    await asyncio.sleep(1.5)
    resp = await api.post(f"/mp/v1/complaints/{cid}/info", json={"message": "3号楼"}, headers=bearer(pair))
    assert resp.status_code == 200
    row = await Complaint.select().where(Complaint.id == uuid.UUID(cid)).first()
    timers = {t["key"].split(":")[1]: t for t in await _timers(cid)}
    # Only the stages still to come were moved, each by exactly the pause; the fired one stayed fired.
    assert timers["remind_1"]["status"] == "fired" and timers["remind_1"]["version"] == 1
    for stage in ("remind_2", "warning", "breach"):
        t = timers[stage]
        moved = (t["due_at"] - row["clock_started_at"]).total_seconds() - first[stage]
        assert t["status"] == "scheduled" and moved == pytest.approx(row["paused_total_s"], abs=1e-3) and moved >= 1.5

    async def breached():
        return "sla_breached" in await _stage_events(cid)

    assert await eventually(breached, timeout=sla_s + 6)
    assert await _stage_events(cid) == ["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"]
    # A pause after the breach: the breach is not sent again.
    await api.post(f"/api/v1/complaints/{cid}/request-info", json={"reason": "再补充"}, headers=admin)
    await api.post(f"/mp/v1/complaints/{cid}/info", json={"message": "12层"}, headers=bearer(pair))
    await asyncio.sleep(3)
    assert (await _stage_events(cid)).count("sla_breached") == 1
    reminders = await Notification.select(Notification.dedup_key).where(Notification.dedup_key.like(f"sla:{cid}:remind_1:%"))
    assert len({r["dedup_key"] for r in reminders}) == 1
    # The citizen was told of the breach, in plain words.
    citizen = uuid.UUID(pair["user"]["id"])
    told = await Notification.select(Notification.body).where(
        (Notification.recipient == citizen) & Notification.dedup_key.like(f"complaint:{cid}:breach:%"))
    assert len(told) == 1 and "超时" in told[0]["body"]

    # Resolved, reopened, resolved in the new clock's time: still not "on time" for the rates.
    after = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="complaint_result")
    await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "已当场整改完毕", "photo_ids": [after]}, headers=admin)
    assert (await api.post(f"/mp/v1/complaints/{cid}/reopen", json={"reason": "没修好"}, headers=bearer(pair))).status_code == 200
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)).status_code == 200
    after = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="complaint_result")
    resp = await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "复修已经完毕", "photo_ids": [after]}, headers=admin)
    assert resp.status_code == 200, resp.text
    row = await Complaint.select().where(Complaint.id == uuid.UUID(cid)).first()
    assert row["breached_at"] is not None and row["overdue"] is False and row["resolved_at"] <= row["deadline_at"]
    figures = (await api.get(f"/api/v1/complaints/dashboard?category={category}", headers=admin)).json()
    assert figures["due"] == 1 and figures["handled_on_time"] == 0

    # Auto-close (its time brought forward instead of waiting 7 days): the citizen is told.
    moved = await DueTimer.update({DueTimer.due_at: datetime.now(UTC)}).where(
        (DueTimer.kind == "complaint_sla") & (DueTimer.key == f"{cid}:autoclose:1") & (DueTimer.status == "scheduled")
    ).returning(DueTimer.id)
    assert len(moved) == 1

    async def closed():
        r = await Complaint.select(Complaint.status).where(Complaint.id == uuid.UUID(cid)).first()
        return r["status"] == "closed"

    assert await eventually(closed, timeout=10)
    told = await Notification.select(Notification.body).where(
        (Notification.recipient == citizen) & (Notification.dedup_key == f"complaint:{cid}:autoclosed"))
    assert len(told) == 1 and "自动办结" in told[0]["body"]


@pytest.mark.asyncio
async def test_nobody_on_duty_tells_the_station_admins_at_once(api, admin, start_worker):
    adcode = 330329  # 泰顺县
    inspectors = (await api.get(f"/api/v1/users?role=inspector&district_adcode={adcode}&limit=100", headers=admin)).json()["items"]
    off = [i["id"] for i in inspectors if i.get("is_active", True)]
    for uid in off:
        assert (await api.put("/api/v1/complaints/duty", json={"on_duty": False, "user_id": uid}, headers=admin)).status_code == 200
    try:
        start_worker(FAST)
        _, complaint = await report(api, admin, adcode)
        cid = complaint["id"]
        assert (await api.get(f"/api/v1/complaints/{cid}", headers=admin)).json()["assignee_id"] is None

        async def told():
            return await Notification.select(Notification.recipient, Notification.urgency).where(
                Notification.dedup_key == f"complaint:{cid}:unassigned")

        rows = await eventually(told, timeout=10)
        assert rows and {r["urgency"] for r in rows} == {"high"}
        roles = {u["role"] for u in await User.select(User.role).where(User.id.is_in([r["recipient"] for r in rows]))}
        assert roles == {"regulator_admin"}
    finally:
        for uid in off:
            await api.put("/api/v1/complaints/duty", json={"on_duty": True, "user_id": uid}, headers=admin)
