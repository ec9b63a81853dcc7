"""Corrections after payment (issue 19 build 3): a paid line's days or rate corrected with a reason becomes a
back-pay (更正补发) or claw-back (更正扣回, flagged for approval) line on the next payroll; audited; nothing is paid
twice. 保障农民工工资支付条例 第三条 (wages in full), 第十五条 (the wage ledger keeps every change).

Roster stints and clocks of last month are arranged with the tables (the API refuses clocks more than 24 h old).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.api import staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_payroll import MONTH, SH, _clock, _setup, _sh, _sub_lead, _worker
from tests.workforce.test_spot_checks import _check, _enterprise

pytestmark = pytest.mark.asyncio(loop_scope="session")
THIS_MONTH = datetime.now(SH).strftime("%Y-%m")


async def _paid_payroll(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 30000, entered=_sh(1, 0))
    b = await _worker(api, admin, labour, pid, 20000, entered=_sh(1, 0))
    for w in (a, b):
        await _clock(w, pid, _sh(2))
        await _clock(w, pid, _sh(3))
    created = await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH},
                             headers=sub)
    assert created.status_code == 201, created.text
    url = f"/api/v1/payrolls/{created.json()['id']}"
    # Not paid yet: nothing to correct (a draft is recomputed or edited instead).
    assert_error(await api.post(f"{url}/corrections", json={"worker_id": a, "days": 3, "reason": "漏记一天"},
                                headers=gc), 409, "PAYROLL_NOT_PAID")
    assert (await api.post(f"{url}/submit", headers=sub)).status_code == 200
    assert (await api.post(f"{url}/approve", headers=gc)).status_code == 200
    paid = await api.post(f"{url}/pay", headers=sub)
    assert paid.status_code == 200 and paid.json()["total_fen"] == 2 * 30000 + 2 * 20000, paid.text
    return {"pid": pid, "labour": labour, "sub": sub, "gc": gc, "a": a, "b": b, "url": url, "id": created.json()["id"]}


async def test_corrections_after_payment_become_lines_of_the_next_payroll(api, admin):
    p = await _paid_payroll(api, admin)
    url, a, b = p["url"], p["a"], p["b"]
    # The GC corrects A's days (a day the site kept on paper), the employer B's rate (a wrong rate was paid).
    up = await api.post(f"{url}/corrections", json={"worker_id": a, "days": 3, "reason": "3日纸质考勤漏录一天"},
                        headers=p["gc"])
    assert up.status_code == 201, up.text
    assert {k: up.json()[k] for k in ("days_before", "days_after", "amount_before_fen", "amount_after_fen",
                                      "difference_fen", "status")} == {
        "days_before": 2, "days_after": 3, "amount_before_fen": 60000, "amount_after_fen": 90000,
        "difference_fen": 30000, "status": "open"}
    down = await api.post(f"{url}/corrections", json={"worker_id": b, "daily_rate_fen": 15000,
                                                      "reason": "日工资按合同为150元，多发"}, headers=p["sub"])
    assert down.status_code == 201 and down.json()["difference_fen"] == -10000, down.text
    # A second correction of the same line starts from the corrected values, not from what was paid.
    again = await api.post(f"{url}/corrections", json={"worker_id": a, "daily_rate_fen": 32000, "reason": "技工日工资调整"},
                           headers=p["gc"])
    assert again.status_code == 201, again.text
    assert (again.json()["days_before"], again.json()["amount_before_fen"], again.json()["amount_after_fen"],
            again.json()["difference_fen"]) == (3, 90000, 96000, 6000)
    # Refused: staff (regulators watch, they do not pay), no change, a worker not on the payroll, no reason.
    assert_error(await api.post(f"{url}/corrections", json={"worker_id": a, "days": 4, "reason": "监管更正"},
                                headers=admin), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(f"{url}/corrections", json={"worker_id": a, "days": 3, "reason": "重复提交"},
                                headers=p["gc"]), 400, "PAYROLL_CORRECTION_NO_CHANGE")
    stranger = await _worker(api, admin, p["labour"], p["pid"], 25000, entered=_sh(1, 0))
    assert_error(await api.post(f"{url}/corrections", json={"worker_id": stranger, "days": 1, "reason": "未发工资"},
                                headers=p["gc"]), 404, "PAYROLL_LINE_NOT_FOUND")
    assert (await api.post(f"{url}/corrections", json={"worker_id": a, "days": 1, "reason": ""},
                           headers=p["gc"])).status_code == 400
    # The paid payroll itself is unchanged, and its trail has every correction with its reason.
    paid = (await api.get(url, headers=p["gc"])).json()
    assert paid["status"] == "paid" and paid["total_fen"] == 100000
    trail = [e for e in (await api.get(f"{url}/events", headers=p["sub"])).json() if e["action"] == "corrected"]
    assert [(e["detail"]["worker"], e["detail"]["difference_fen"], e["detail"]["reason"]) for e in trail] == [
        (a, 30000, "3日纸质考勤漏录一天"), (b, -10000, "日工资按合同为150元，多发"), (a, 6000, "技工日工资调整")]
    assert {e["detail"]["by"] for e in trail} == {"general_contractor", "subcontractor"}

    # The next payroll (this month) carries them: A's back pay (net of both corrections), B's claw-back.
    nxt = await api.post("/api/v1/payrolls", json={"project_id": p["pid"], "enterprise_id": p["labour"],
                                                   "month": THIS_MONTH}, headers=p["sub"])
    assert nxt.status_code == 201, nxt.text
    lines = {(line["worker_id"], line["kind"]): line for line in nxt.json()["lines"]}
    assert lines[(a, "correction")]["amount_fen"] == 36000 and lines[(a, "correction")]["difference_fen"] == 0
    assert "更正补发" in lines[(a, "correction")]["note"] and MONTH in lines[(a, "correction")]["note"]
    claw = lines[(b, "clawback")]
    assert claw["amount_fen"] == -10000 and claw["difference_fen"] == -10000 and "须审批" in claw["note"]
    assert nxt.json()["total_fen"] == sum(line["amount_fen"] for line in nxt.json()["lines"])
    nurl = f"/api/v1/payrolls/{nxt.json()['id']}"
    carried = (await api.get(f"{nurl}/corrections", headers=p["gc"])).json()
    assert len(carried) == 3 and {c["next_payroll_id"] for c in carried} == {nxt.json()["id"]}
    # A recompute keeps them (once), and the claw-back is approved only with a reason.
    again = await api.post(f"{nurl}/recompute", headers=p["sub"])
    assert sorted((line["worker_id"], line["kind"], line["amount_fen"]) for line in again.json()["lines"]
                  if line["kind"] in ("correction", "clawback")) == sorted([(a, "correction", 36000), (b, "clawback", -10000)])
    assert (await api.post(f"{nurl}/submit", headers=p["sub"])).status_code == 200
    assert_error(await api.post(f"{nurl}/approve", headers=p["gc"]), 400, "PAYROLL_DIFFERENCES_NEED_REASON")
    ok = await api.post(f"{nurl}/approve", json={"reason": "多发工资经工人签字确认扣回"}, headers=p["gc"])
    assert ok.status_code == 200 and ok.json()["status"] == "approved", ok.text
    applied = (await api.get(f"{url}/corrections", headers=p["gc"])).json()
    assert {(c["status"], c["applied_payroll_id"]) for c in applied} == {("applied", nxt.json()["id"])}
    approved = [e for e in (await api.get(f"{nurl}/events", headers=p["gc"])).json() if e["action"] == "approve"]
    assert approved[-1]["detail"]["corrections_applied"] == 3
    # Exported as back pay (the national PayRollDetail object); a settled correction is carried by no later payroll.
    export = (await api.get("/api/v1/workforce/exports/PayRollDetail",
                            params={"project_id": p["pid"], "month": THIS_MONTH}, headers=p["gc"])).json()
    assert {(r["totalPayAmount"], r["isBackPay"]) for r in export} >= {("360.00", 1), ("-100.00", 0)}


async def test_a_held_employer_cannot_correct_the_gc_can_and_outsiders_cannot(api, admin):
    p = await _paid_payroll(api, admin)
    body = {"worker_id": p["a"], "days": 3, "reason": "漏录一天"}
    other_firm = await _sub_lead(api, admin, await _enterprise(api, admin, "91330382MA2JK9L0M1"))
    assert_error(await api.post(f"{p['url']}/corrections", json=body, headers=other_firm), 403, "FORBIDDEN_OWNER")
    insp = await staff_token(api, "lc_inspector")
    first = (await _check(api, insp, p["pid"], passed=False)).json()
    assert (await _check(api, insp, p["pid"], passed=False, reinspection_of=first["id"])).json()["holds_started"]
    # Under a quality hold the subcontractor is refused (audited); the GC carries the correction (总包代发).
    assert_error(await api.post(f"{p['url']}/corrections", json=body, headers=p["sub"]), 403, "PAYROLL_HELD")
    refused = [e for e in (await api.get(f"{p['url']}/events", headers=p["gc"])).json() if e["action"] == "refused"]
    assert refused and refused[-1]["detail"]["attempt"] == "correct"
    assert (await api.post(f"{p['url']}/corrections", json=body, headers=p["gc"])).status_code == 201
    assert len((await api.get(f"{p['url']}/corrections", headers=admin)).json()) == 1  # district staff read
