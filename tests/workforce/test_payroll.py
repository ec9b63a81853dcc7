"""Payroll on the real services: attendance and entered amounts, the flow, a hold (GC pays), lifting, access.

Roster stints and clocks are arranged with the Piccolo tables until the roster API lands; every act and
assertion goes through HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.accounts.tables import User
from backend.notifications.tables import Notification
from backend.workforce.tables import Clock, ProjectWorker, Worker
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_registry import _id_number
from tests.workforce.test_spot_checks import GC, LABOUR, _check, _enterprise, _project

pytestmark = pytest.mark.asyncio(loop_scope="session")
SH = ZoneInfo("Asia/Shanghai")
MONTH = (datetime.now(SH).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")  # last month: all in the past
Y, M = int(MONTH[:4]), int(MONTH[5:])


async def _sub_lead(api, admin, enterprise_id) -> dict[str, str]:
    username = f"sub_{uuid.uuid4().hex[:8]}"
    resp = await api.post("/api/v1/users", json={"role": "project_lead", "display_name": "劳务经理", "username": username,
                                                 "password": "Sub-pass-2026", "enterprise_id": enterprise_id}, headers=admin)
    assert resp.status_code == 201, resp.text
    return await staff_token(api, username, "Sub-pass-2026")


async def _worker(api, admin, employer, project_id, rate_fen, *, entered, exited=None, linked=False) -> str:
    resp = await api.post("/api/v1/workers", json={"name": f"工人{uuid.uuid4().hex[:4]}", "id_number": _id_number(),
                                                   "employer_id": employer}, headers=admin)
    assert resp.status_code == 201, resp.text
    worker_id = resp.json()["id"]
    if linked:
        openid = f"worker-{uuid.uuid4().hex[:10]}"
        await mp_login(api, openid)
        user = await User.select(User.id).where(User.openid == openid).first()
        await Worker.update({Worker.user: user["id"]}).where(Worker.id == worker_id)
    await ProjectWorker.insert(ProjectWorker(project=project_id, worker=worker_id, enterprise=employer,
                                             daily_rate_fen=rate_fen, entered_at=entered, exited_at=exited))
    return worker_id


async def _clock(worker_id, project_id, at, kind="in"):
    await Clock.insert(Clock(worker=worker_id, project=project_id, kind=kind, at=at, lng=120.6, lat=28.0))


def _sh(day, hour=8, minute=0):
    return datetime(Y, M, day, hour, minute, tzinfo=SH)


async def _setup(api, admin):
    project = await _project(api, admin)
    labour = await _enterprise(api, admin, LABOUR)
    sub = await _sub_lead(api, admin, labour)
    gc = await staff_token(api, "lead_wang")  # works for the general contractor
    return project, labour, sub, gc


async def test_payroll_from_attendance_counts_shanghai_days_within_the_stint(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 35000, entered=_sh(1, 0))
    for at in (_sh(2, 7), _sh(2, 18), _sh(3, 7),  # two clock-ins on the 2nd count once
               datetime(Y, M, 3, 23, 30, tzinfo=ZoneInfo("UTC"))):  # 07:30 on the 4th in Shanghai
        await _clock(a, pid, at)
    await _clock(a, pid, _sh(5, 17), kind="out")  # a clock-out is not a day
    b = await _worker(api, admin, labour, pid, 30000, entered=_sh(10, 0), exited=_sh(12, 20))
    for day in (9, 10, 11, 12, 13):  # the 9th before entry, the 13th after exit
        await _clock(b, pid, _sh(day, 8))
    resp = await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=sub)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    lines = {line["worker_id"]: line for line in body["lines"]}
    assert (lines[a]["days"], lines[a]["amount_fen"]) == (3, 105000)
    assert (lines[b]["days"], lines[b]["amount_fen"]) == (3, 90000)
    assert body["total_fen"] == 195000 and body["status"] == "draft" and body["basis"] == "attendance"
    assert_error(await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH},
                                headers=gc), 409, "PAYROLL_EXISTS")


async def test_entered_amounts_edit_in_draft_and_the_normal_flow(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 0, entered=_sh(1, 0), linked=True)
    stranger = (await api.post("/api/v1/workers", json={"name": "外人", "id_number": _id_number(), "employer_id": labour},
                               headers=admin)).json()["id"]
    base = {"project_id": pid, "enterprise_id": labour, "month": MONTH, "basis": "entered"}
    assert_error(await api.post("/api/v1/payrolls", json={**base, "lines": [{"worker_id": stranger, "amount_fen": 1}]},
                                headers=sub), 400, "PAYROLL_WORKER_NOT_ON_ROSTER")
    created = (await api.post("/api/v1/payrolls", json={**base, "lines": [{"worker_id": a, "amount_fen": 500000, "days": 20}]},
                              headers=sub)).json()
    assert created["total_fen"] == 500000
    edited = await api.put(f"/api/v1/payrolls/{created['id']}/lines", json={"lines": [{"worker_id": a, "amount_fen": 520000}]}, headers=sub)
    assert edited.status_code == 200 and edited.json()["total_fen"] == 520000
    url = f"/api/v1/payrolls/{created['id']}"
    assert_error(await api.post(f"{url}/approve", headers=sub), 403, "FORBIDDEN_ROLE")  # the GC approves
    assert_error(await api.post(f"{url}/pay", headers=sub), 409, "PAYROLL_BAD_STATE")
    assert (await api.post(f"{url}/submit", headers=sub)).json()["status"] == "submitted"
    assert_error(await api.put(f"{url}/lines", json={"lines": [{"worker_id": a, "amount_fen": 1}]}, headers=sub), 409, "PAYROLL_NOT_DRAFT")
    # No clock-in backs the 5 200 元 (attendance gives 0): the difference is shown and approved only with a reason.
    line = (await api.get(url, headers=gc)).json()["lines"][0]
    assert (line["attendance_fen"], line["difference_fen"]) == (0, 520000)
    assert_error(await api.post(f"{url}/approve", headers=gc), 400, "PAYROLL_DIFFERENCES_NEED_REASON")
    approved = await api.post(f"{url}/approve", json={"reason": "计件工资，按班组验收量结算"}, headers=gc)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    paid = (await api.post(f"{url}/pay", headers=sub)).json()
    assert paid["status"] == "paid" and paid["paid_by"] == "subcontractor" and paid["payer_id"] == labour
    assert paid["hold_id"] is None and paid["lines"][0]["paid_fen"] == 520000
    trail = [e["action"] for e in (await api.get(f"{url}/events", headers=gc)).json()]
    assert trail == ["created", "edited", "submit", "approve", "pay"]
    worker_user = (await Worker.select(Worker.user).where(Worker.id == a).first())["user"]
    told = await Notification.select(Notification.template).where(Notification.recipient == worker_user)
    assert "wage_paid" in {t["template"] for t in told}


async def test_during_a_hold_the_gc_pays_the_subcontractor_is_refused_and_lifting_needs_reinspection(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 40000, entered=_sh(1, 0), linked=True)
    await _clock(a, pid, _sh(3))
    # The subcontractor drafts before the hold; then two failed checks running start it.
    draft = (await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=sub)).json()
    insp = await staff_token(api, "lc_inspector")
    first = (await _check(api, insp, pid, passed=False)).json()
    second = (await _check(api, insp, pid, passed=False)).json()
    [hold_id] = second["holds_started"]
    worker_user = (await Worker.select(Worker.user).where(Worker.id == a).first())["user"]
    told = await Notification.select(Notification.template).where(Notification.recipient == worker_user)
    assert "wages_unaffected" in {t["template"] for t in told}
    url = f"/api/v1/payrolls/{draft['id']}"
    assert_error(await api.post(f"{url}/submit", headers=sub), 403, "PAYROLL_HELD")
    # The GC carries it: submits on the subcontractor's behalf, approves, pays from the wage account.
    assert (await api.post(f"{url}/submit", headers=gc)).json()["status"] == "submitted"
    assert_error(await api.post(f"{url}/approve", headers=sub), 403, "PAYROLL_HELD")
    assert (await api.post(f"{url}/approve", headers=gc)).json()["status"] == "approved"
    assert_error(await api.post(f"{url}/pay", headers=sub), 403, "PAYROLL_HELD")
    paid = (await api.post(f"{url}/pay", headers=gc)).json()
    gc_id = await _enterprise(api, admin, GC)
    assert paid["status"] == "paid" and paid["paid_by"] == "general_contractor" and paid["payer_id"] == gc_id
    assert paid["hold_id"] == hold_id and paid["total_fen"] == 40000 and paid["lines"][0]["paid_fen"] == 40000
    events = (await api.get(f"{url}/events", headers=insp)).json()
    refusals = [e["detail"]["attempt"] for e in events if e["action"] == "refused"]
    assert refusals == ["submit", "approve", "pay"] and all(e["detail"]["code"] == "PAYROLL_HELD" for e in events if e["action"] == "refused")
    # While held, the subcontractor cannot issue another month's either; the GC can.
    prev = (datetime(Y, M, 1, tzinfo=SH) - timedelta(days=1)).strftime("%Y-%m")
    assert_error(await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": prev},
                                headers=sub), 403, "PAYROLL_HELD")
    # Lifting: a regulator alone is not enough — a passing re-inspection is needed first.
    lift = f"/api/v1/quality-holds/{hold_id}/lift"
    assert_error(await api.post(lift, json={"reason": "整改完成"}, headers=await staff_token(api, "lc_admin")), 409,
                 "HOLD_NEEDS_REINSPECTION")
    await _check(api, insp, pid, passed=False, reinspection_of=first["id"])  # a failed re-inspection does not count
    assert_error(await api.post(lift, json={"reason": "整改完成"}, headers=await staff_token(api, "lc_admin")), 409,
                 "HOLD_NEEDS_REINSPECTION")
    ask = f"/api/v1/quality-holds/{hold_id}/request-lift"
    other_firm = await _sub_lead(api, admin, await _enterprise(api, admin, "91330382MA2JK9L0M1"))
    assert_error(await api.post(ask, json={"note": "已整改"}, headers=other_firm), 403, "FORBIDDEN_OWNER")  # not the held firm
    assert (await api.post(ask, json={"note": "钢筋保护层已整改"}, headers=sub)).status_code == 200
    assert (await _check(api, insp, pid, passed=True, reinspection_of=second["id"])).status_code == 201
    assert_error(await api.post(lift, json={"reason": "整改完成"}, headers=sub), 403, "FORBIDDEN_ROLE")
    lw_admin = f"lw_admin_{uuid.uuid4().hex[:6]}"
    made = await api.post("/api/v1/users", json={"role": "regulator_admin", "display_name": "龙湾站站长", "username": lw_admin,
                                                 "password": "Lw-admin-2026", "district_adcode": 330303}, headers=admin)
    assert made.status_code == 201, made.text
    assert_error(await api.post(lift, json={"reason": "整改完成"}, headers=await staff_token(api, lw_admin, "Lw-admin-2026")),
                 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.post(lift, json={"reason": "整改完成"}, headers=insp), 403, "FORBIDDEN_ROLE")  # approval: another, a regulator admin
    lifted = await api.post(lift, json={"reason": "整改完成"}, headers=await staff_token(api, "lc_admin"))
    assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    assert_error(await api.post(ask, json={"note": "再次申请"}, headers=sub), 409, "HOLD_NOT_ACTIVE")
    # Every step is on the hold's trail, in order, for the station, the GC and the held subcontractor.
    trail = (await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=sub)).json()
    assert [(e["action"], e["detail"].get("attempt") or e["detail"].get("what")) for e in trail] == [
        ("placed", None), ("notified", "暂停"), ("workers_told", None),
        ("refused", "payroll_submit"), ("payroll_submit", None), ("refused", "payroll_approve"), ("payroll_approve", None),
        ("refused", "payroll_pay"), ("payroll_pay", None), ("refused", "payroll_create"),
        ("refused", "lift"), ("refused", "lift"), ("lift_requested", None), ("reinspection_passed", None),
        ("lifted", None), ("notified", "解除"),
    ]
    assert trail[0]["detail"]["evidence"] == [first["id"], second["id"]] and trail[0]["actor_id"] is not None
    assert trail[2]["detail"]["recipients"] == 1 and trail[8]["detail"]["payroll"] == draft["id"]
    assert {k: v for k, v in trail[-2]["detail"].items() if k not in ("reinspected_by", "approved_by")} == {
        "from": "active", "to": "lifted", "reason": "整改完成", "reinspection": trail[-3]["detail"]["spot_check"]}
    assert trail[-2]["detail"]["reinspected_by"] != trail[-2]["detail"]["approved_by"]
    assert [e["action"] for e in (await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=gc)).json()] == [e["action"] for e in trail]
    assert len((await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=insp)).json()) == len(trail)
    assert_error(await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=await staff_token(api, "sup_li")), 403, "FORBIDDEN_ROLE")
    stranger = await _sub_lead(api, admin, await _enterprise(api, admin, "91330382MA2JK9L0M1"))
    assert_error(await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=stranger), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(f"/api/v1/quality-holds/{hold_id}/events", headers=bearer(await mp_login(api))), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get(f"/api/v1/quality-holds/{uuid.uuid4()}/events", headers=insp), 404, "HOLD_NOT_FOUND")
    # After lifting the subcontractor issues again.
    again = await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": prev}, headers=sub)
    assert again.status_code == 201, again.text
    assert (await api.post(f"/api/v1/payrolls/{again.json()['id']}/submit", headers=sub)).json()["status"] == "submitted"


async def test_who_may_see_and_act(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    created = (await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=gc)).json()
    other_labour = await _enterprise(api, admin, "91330382MA2JK9L0M1")  # 东海劳务: not a party of this project
    other_sub = await _sub_lead(api, admin, other_labour)
    url = f"/api/v1/payrolls/{created['id']}"
    assert (await api.get(url, headers=sub)).status_code == 200
    assert (await api.get(url, headers=await staff_token(api, "lc_inspector"))).status_code == 200
    assert_error(await api.get(url, headers=other_sub), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(url, headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get(url, headers=await staff_token(api, "sup_li")), 403, "FORBIDDEN_OWNER")
    assert_error(await api.post(f"{url}/submit", headers=await staff_token(api, "lc_inspector")), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/payrolls", params={"project_id": pid}, headers=other_sub), 403, "FORBIDDEN_OWNER")
    assert len((await api.get("/api/v1/payrolls", params={"project_id": pid}, headers=sub)).json()) == 1
    assert_error(await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": other_labour, "month": MONTH},
                                headers=gc), 400, "NOT_PROJECT_SUBCONTRACTOR")
    assert_error(await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": "2026-13"},
                                headers=gc), 400, "VALIDATION_ERROR")
