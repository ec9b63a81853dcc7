"""Payroll from attendance with back pay (issue 19 build 3), through HTTP on the real services.

保障农民工工资支付条例 第三条 (wages in full and on time): every owed day is paid exactly once — an accepted
offline clock, a clock reviewed after its month was paid, a day worked after the month's payroll was approved all
come back as a back-pay line (补发) on the next payroll, exported as such; a rejected clock is never paid.
Clocks dated last month are arranged with the table (the API refuses clocks more than 24 h old, by design).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.accounts.tables import User
from backend.workforce.tables import Clock, Worker
from tests.support.api import bearer, mp_login
from tests.support.asserts import assert_error
from tests.workforce.test_payroll import MONTH, SH, _setup, _sh, _worker

pytestmark = pytest.mark.asyncio(loop_scope="session")
THIS_MONTH = datetime.now(SH).strftime("%Y-%m")


async def _clock(worker_id, project_id, at, *, flags=()):
    row = Clock(worker=worker_id, project=project_id, kind="in", at=at, lng=120.6, lat=28.0, flags=list(flags),
                review_status="pending" if flags else "none", offline="offline" in flags)
    await Clock.insert(row)
    return str(row.id)


async def _worker_token(api, worker_id) -> dict[str, str]:
    user = (await Worker.select(Worker.user).where(Worker.id == worker_id).first())["user"]
    openid = (await User.select(User.openid).where(User.id == user).first())["openid"]
    await User.update({User.role: "worker"}).where(User.id == user)
    return bearer(await mp_login(api, openid))


async def test_accepted_and_late_clocks_are_paid_once_as_back_pay(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 30000, entered=_sh(1, 0), linked=True)
    await _clock(a, pid, _sh(2))
    await _clock(a, pid, _sh(3))
    offline = await _clock(a, pid, _sh(4), flags=("offline",))
    rejected = await _clock(a, pid, _sh(5), flags=("selfie_reused",))
    created = await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=sub)
    assert created.status_code == 201, created.text
    url = f"/api/v1/payrolls/{created.json()['id']}"
    [line] = created.json()["lines"]
    assert (line["kind"], line["days"], line["amount_fen"]) == ("regular", 2, 60000)  # flagged days wait for review
    # The employer accepts the offline clock (paid) and rejects the reused selfie (never paid); the draft is recomputed.
    ok = await api.post(f"/api/v1/attendance/{offline}/review", json={"accept": True, "reason": "断网补录，班组长核实"}, headers=sub)
    assert ok.status_code == 200, ok.text
    no = await api.post(f"/api/v1/attendance/{rejected}/review", json={"accept": False, "reason": "自拍与他人重复"}, headers=sub)
    assert no.status_code == 200, no.text
    again = await api.post(f"{url}/recompute", headers=sub)
    assert again.status_code == 200, again.text
    [line] = again.json()["lines"]
    assert line["days"] == 3 and line["work_days"] == [f"{MONTH}-02", f"{MONTH}-03", f"{MONTH}-04"]
    assert (await api.post(f"{url}/submit", headers=sub)).json()["status"] == "submitted"
    assert (await api.post(f"{url}/recompute", headers=gc)).status_code == 200  # still recomputable when submitted
    assert (await api.post(f"{url}/approve", headers=gc)).json()["status"] == "approved"
    assert_error(await api.post(f"{url}/recompute", headers=sub), 409, "PAYROLL_BAD_STATE")  # approved: settled
    assert (await api.post(f"{url}/pay", headers=sub)).json()["total_fen"] == 90000
    # After payment: a late offline clock of the paid month is accepted, and a day after approval is worked.
    late = await _clock(a, pid, _sh(20), flags=("offline",))
    assert (await api.post(f"/api/v1/attendance/{late}/review", json={"accept": True, "reason": "补录核实"}, headers=gc)).status_code == 200
    await _clock(a, pid, _sh(21))
    # This month's payroll pays them as back pay, apart from its own days; nothing of last month is paid twice.
    await _clock(a, pid, datetime.now(SH).replace(hour=0, minute=30))
    this = await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": THIS_MONTH}, headers=sub)
    assert this.status_code == 201, this.text
    lines = {line["kind"]: line for line in this.json()["lines"]}
    assert set(lines) == {"regular", "back_pay"}
    assert lines["back_pay"]["work_days"] == [f"{MONTH}-20", f"{MONTH}-21"] and lines["back_pay"]["amount_fen"] == 60000
    assert MONTH in lines["back_pay"]["note"] and lines["regular"]["days"] == 1
    export = (await api.get("/api/v1/workforce/exports/PayRollDetail", params={"project_id": pid, "month": THIS_MONTH},
                            headers=gc)).json()
    back = [r for r in export if r["isBackPay"] == 1]
    assert len(back) == 1 and back[0]["backPayMonth"] == MONTH and back[0]["totalPayAmount"] == "600.00"
    # A second payroll for last month cannot exist; the settled days stay settled.
    assert_error(await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH},
                                headers=sub), 409, "PAYROLL_EXISTS")
    # The worker sees their own lines in the mini-program: last month's, this month's and its back pay.
    mine = await api.get("/mp/v1/workforce/payroll-lines", headers=await _worker_token(api, a))
    assert mine.status_code == 200, mine.text
    assert sorted((m["month"], m["kind"], m["amount_fen"]) for m in mine.json()) == [
        (MONTH, "regular", 90000), (THIS_MONTH, "back_pay", 60000), (THIS_MONTH, "regular", 30000)]
    assert_error(await api.get("/mp/v1/workforce/payroll-lines", headers=bearer(await mp_login(api))), 403, "FORBIDDEN_ROLE")


async def test_two_payrolls_cannot_settle_the_same_day(api, admin):
    """The ledger is unique per (worker, project, day): approving a payroll whose days another approval settled
    meanwhile is refused as stale, and a recompute drops them."""
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 25000, entered=_sh(1, 0))
    await _clock(a, pid, _sh(8))
    last = (await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=sub)).json()
    this = (await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": THIS_MONTH},
                           headers=sub)).json()
    assert [line["kind"] for line in this["lines"]] == ["back_pay"]  # the 8th is owed and not yet settled
    for p in (last, this):
        assert (await api.post(f"/api/v1/payrolls/{p['id']}/submit", headers=sub)).status_code == 200
    assert (await api.post(f"/api/v1/payrolls/{last['id']}/approve", headers=gc)).status_code == 200
    assert_error(await api.post(f"/api/v1/payrolls/{this['id']}/approve", headers=gc), 409, "PAYROLL_STALE")
    fixed = (await api.post(f"/api/v1/payrolls/{this['id']}/recompute", headers=sub)).json()
    assert fixed["lines"] == [] and fixed["total_fen"] == 0
