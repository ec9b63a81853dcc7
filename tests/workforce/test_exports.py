"""National-standard exports (WorkerMaster … PayRollDetail): shape, masking by role, access."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.api import staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_payroll import MONTH, _clock, _setup, _sh, _worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_exports_shape_masking_and_access(api, admin):
    project, labour, sub, gc = await _setup(api, admin)
    pid = project["id"]
    a = await _worker(api, admin, labour, pid, 30000, entered=_sh(2, 8), exited=_sh(20, 18))
    await _clock(a, pid, _sh(3, 7))
    await _clock(a, pid, _sh(3, 17), kind="out")
    b = await _worker(api, admin, labour, pid, 30000, entered=_sh(5, 8))
    team = (await api.post("/api/v1/teams", json={"project_id": pid, "enterprise_id": labour, "name": "钢筋班", "leader_worker_id": b},
                           headers=sub)).json()
    [stint_b] = [s for s in (await api.get("/api/v1/roster", params={"project_id": pid}, headers=sub)).json() if s["worker_id"] == b]
    assert (await api.put(f"/api/v1/roster/{stint_b['id']}/team", json={"team_id": team["id"]}, headers=sub)).status_code == 200
    payroll = (await api.post("/api/v1/payrolls", json={"project_id": pid, "enterprise_id": labour, "month": MONTH}, headers=sub)).json()
    full = (await api.get(f"/api/v1/workers/{a}/pii", headers=admin)).json()["id_number"]
    params = {"project_id": pid, "month": MONTH}
    as_gc = await api.get("/api/v1/workforce/exports", params=params, headers=gc)
    assert as_gc.status_code == 200, as_gc.text
    body = as_gc.json()
    assert list(body) == ["WorkerMaster", "TeamMaster", "ProjectWorker", "EntryExitHistory", "WorkerAttendance", "PayRoll", "PayRollDetail"]
    assert body["WorkerMaster"][0]["idCardNumber"] == full and body["WorkerMaster"][0]["idCardType"] == "01"
    assert set(body["ProjectWorker"][0]) >= {"projectCode", "corpCode", "corpName", "teamSysNo", "teamName", "isTeamLeader",
                                             "idCardNumber", "workType", "workRole", "payRollBankCardNumber"}
    assert body["ProjectWorker"][0]["projectCode"] == project["permit_no"]
    assert [(w["teamSysNo"], w["teamName"], w["isTeamLeader"]) for w in body["ProjectWorker"]] == [("", "", 0), (team["id"], "钢筋班", 1)]
    [tm] = body["TeamMaster"]
    assert (tm["teamSysNo"], tm["teamName"], tm["teamLeaderIDCardType"]) == (team["id"], "钢筋班", "01")
    assert tm["teamLeaderIDNumber"] == (await api.get(f"/api/v1/workers/{b}/pii", headers=admin)).json()["id_number"]
    assert [(e["type"], e["date"]) for e in body["EntryExitHistory"]] == [(1, f"{MONTH}-02"), (0, f"{MONTH}-20"), (1, f"{MONTH}-05")]
    assert [(c["direction"], c["date"]) for c in body["WorkerAttendance"]] == [("01", f"{MONTH}-03 07:00:00"), ("02", f"{MONTH}-03 17:00:00")]
    assert body["PayRoll"][0]["payRollCode"] == payroll["id"] and body["PayRoll"][0]["payMonth"] == MONTH
    [detail] = [d for d in body["PayRollDetail"] if d["idCardNumber"] == full]
    assert detail["days"] == 1 and detail["totalPayAmount"] == "300.00" and detail["thirdPayRollCode"] == payroll["id"]
    # An inspector of the district reads it masked; the admin unmasked.
    insp = (await api.get("/api/v1/workforce/exports/WorkerMaster", params=params, headers=await staff_token(api, "lc_inspector"))).json()
    assert insp[0]["idCardNumber"] == full[:6] + "********" + full[-4:] and full not in str(insp)
    masked_team = (await api.get("/api/v1/workforce/exports/TeamMaster", params=params, headers=await staff_token(api, "lc_inspector"))).json()
    assert "*" in masked_team[0]["teamLeaderIDNumber"]
    assert (await api.get("/api/v1/workforce/exports/WorkerMaster", params=params, headers=admin)).json()[0]["idCardNumber"] == full
    csv_resp = await api.get("/api/v1/workforce/exports/PayRollDetail", params={**params, "format": "csv"}, headers=gc)
    assert csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert {r["payRollCode"] for r in rows} == {payroll["id"]} and "300.00" in {r["totalPayAmount"] for r in rows}
    # Refused: the subcontractor, another district, an unknown object, a bad month.
    assert_error(await api.get("/api/v1/workforce/exports", params=params, headers=sub), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get("/api/v1/workforce/exports", params=params, headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get("/api/v1/workforce/exports/Nope", params=params, headers=gc), 400, "VALIDATION_ERROR")
    assert_error(await api.get("/api/v1/workforce/exports", params={**params, "month": "2026-1"}, headers=gc), 400, "VALIDATION_ERROR")
