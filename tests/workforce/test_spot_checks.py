"""Spot checks and quality holds on the real services: the hold starts on exactly the second failure running."""

from __future__ import annotations

import pytest

from backend.notifications.tables import Notification
from tests.materials.helpers import labels, new_batch, world
from tests.support.api import bearer, mp_login, new_permit, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务有限公司 (demo)
GC = "91330303MA2CD3E4FR"  # 浙江瓯江建设集团有限公司 (demo)


async def _enterprise(api, admin, uscc):
    return (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()["items"][0]["id"]


async def _project(api, admin) -> dict:
    district = (await api.get("/api/v1/districts/330302", headers=admin)).json()
    lng, lat = district["center"]
    lead_id = (await api.get("/api/v1/me", headers=await staff_token(api, "lead_wang"))).json()["id"]
    resp = await api.post("/api/v1/projects", json={
        "name": "抽查测试项目", "permit_no": new_permit(), "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"},
        "parties": [{"enterprise_id": await _enterprise(api, admin, LABOUR), "role": "labour_subcontractor"},
                    {"enterprise_id": await _enterprise(api, admin, GC), "role": "general_contractor"}],
        "lead_user_ids": [lead_id]}, headers=admin)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _check(api, headers, project_id, passed: bool, **extra):
    body = {"project_id": project_id, "items": [{"name": "钢筋保护层厚度", "passed": passed, "note": "" if passed else "偏差超限"},
                                                {"name": "模板支撑间距", "passed": True}], **extra}
    return await api.post("/api/v1/spot-checks", json=body, headers=headers)


async def test_second_failure_running_starts_the_hold_and_lifting_ends_it(api, admin):
    project = await _project(api, admin)
    insp = await staff_token(api, "lc_inspector")
    first = await _check(api, insp, project["id"], passed=False)
    assert first.status_code == 201, first.text
    assert first.json()["passed"] is False and first.json()["holds_started"] == []
    second = (await _check(api, insp, project["id"], passed=False, reinspection_of=first.json()["id"])).json()
    assert len(second["holds_started"]) == 1
    holds = (await api.get("/api/v1/quality-holds", params={"project_id": project["id"]}, headers=insp)).json()
    assert len(holds) == 1 and holds[0]["status"] == "active" and holds[0]["enterprise_name"] == "温州安居劳务有限公司"
    assert holds[0]["evidence"] == [first.json()["id"], second["id"]]
    # Told: the general contractor's people (the lead works for it), the station.
    told = await Notification.select(Notification.recipient).where(Notification.dedup_key == f"hold:{holds[0]['id']}:暂停")
    lead_id = (await api.get("/api/v1/me", headers=await staff_token(api, "lead_wang"))).json()["id"]
    assert lead_id in {str(t["recipient"]) for t in told}
    # A third failure does not start a second hold for the same subcontractor.
    third = (await _check(api, insp, project["id"], passed=False)).json()
    assert third["holds_started"] == []
    # The lead sees the hold of their project.
    lead = await staff_token(api, "lead_wang")
    assert len((await api.get("/api/v1/quality-holds", params={"project_id": project["id"]}, headers=lead)).json()) == 1
    # Lifting needs a passing re-inspection of one of the hold's failed checks, then a regulator's approval.
    # Issue 19 build 6 (four eyes): the re-inspector passes, ANOTHER person with the regulator role approves.
    lift = f"/api/v1/quality-holds/{holds[0]['id']}/lift"
    station_admin = await staff_token(api, "lc_admin")
    assert_error(await api.post(lift, json={"reason": "整改到位"}, headers=station_admin), 409, "HOLD_NEEDS_REINSPECTION")
    assert (await _check(api, station_admin, project["id"], passed=True, reinspection_of=second["id"])).status_code == 201
    assert_error(await api.post(lift, json={"reason": "复查合格，整改到位"}, headers=insp), 403, "FORBIDDEN_ROLE")  # not a regulator admin
    assert_error(await api.post(lift, json={"reason": "自己复查自己批准"}, headers=station_admin), 409,
                 "HOLD_REINSPECTOR_CANNOT_APPROVE")
    assert (await api.get("/api/v1/quality-holds", params={"project_id": project["id"]}, headers=insp)).json()[0]["status"] == "active"
    assert (await _check(api, insp, project["id"], passed=True, reinspection_of=second["id"])).status_code == 201
    lifted = await api.post(lift, json={"reason": "复查合格，整改到位"}, headers=station_admin)  # the inspector re-inspected
    assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    trail = (await api.get(f"/api/v1/quality-holds/{holds[0]['id']}/events", headers=insp)).json()
    done = next(e for e in trail if e["action"] == "lifted")["detail"]
    me = {t: (await api.get("/api/v1/me", headers=h)).json()["id"] for t, h in (("insp", insp), ("admin", station_admin))}
    assert done["reinspected_by"] == me["insp"] and done["approved_by"] == me["admin"]
    assert_error(await api.post(lift, json={"reason": "再次解除"}, headers=station_admin), 409, "HOLD_NOT_ACTIVE")


async def test_fail_pass_fail_starts_no_hold(api, admin):
    project = await _project(api, admin)
    insp = await staff_token(api, "lc_inspector")
    results = []
    for passed in (False, True, False):
        resp = await _check(api, insp, project["id"], passed=passed)
        results.append(resp.json()["holds_started"])
    assert results == [[], [], []]
    assert (await api.get("/api/v1/quality-holds", params={"project_id": project["id"]}, headers=insp)).json() == []


async def test_who_may_record_and_bad_input(api, admin):
    project = await _project(api, admin)
    other = await _project(api, admin)
    insp = await staff_token(api, "lc_inspector")
    assert_error(await _check(api, await staff_token(api, "lw_inspector"), project["id"], passed=False), 403, "FORBIDDEN_DISTRICT")
    assert_error(await _check(api, bearer(await mp_login(api)), project["id"], passed=False), 403, "FORBIDDEN_ROLE")
    assert_error(await _check(api, await staff_token(api, "lead_wang"), project["id"], passed=False), 403, "FORBIDDEN_ROLE")
    gc = await _enterprise(api, admin, GC)
    assert_error(await _check(api, insp, project["id"], passed=False, responsible_ids=[gc]), 400, "NOT_PROJECT_SUBCONTRACTOR")
    elsewhere = (await _check(api, insp, other["id"], passed=True)).json()
    assert_error(await _check(api, insp, project["id"], passed=True, reinspection_of=elsewhere["id"]), 400, "REINSPECTION_OTHER_PROJECT")
    empty = await api.post("/api/v1/spot-checks", json={"project_id": project["id"], "items": []}, headers=insp)
    assert_error(empty, 400, "VALIDATION_ERROR")
    assert (await api.get("/api/v1/spot-checks", params={"project_id": project["id"]}, headers=insp)).json() == []
    sup = await staff_token(api, "sup_li")  # 正衡监理 is not a party of these projects
    assert_error(await api.get("/api/v1/quality-holds", params={"project_id": project["id"]}, headers=sup), 403, "FORBIDDEN_OWNER")


async def test_a_checked_batch_shows_the_spot_check_in_its_trace(api, admin):
    w = await world(api, admin)
    batch = await new_batch(api, w)
    insp = await staff_token(api, "lc_inspector")
    if w["project"]["district_adcode"] != 330302:
        pytest.skip("the materials demo project is not in 鹿城区")
    resp = await _check(api, insp, w["project"]["id"], passed=True, batch_ids=[batch["id"]])
    assert resp.status_code == 201, resp.text
    token = (await labels(api, w, batch["id"]))[0]["token"]  # the batch label (serial 0) exists from creation
    scan = await api.post("/mp/v1/materials/scan", json={"content": token}, headers=bearer(await mp_login(api)))
    assert scan.status_code == 200, scan.text
    checks = scan.json()["trace"]["spot_checks"]
    assert len(checks) == 1 and checks[0]["passed"] is True and checks[0]["items_failed"] == 0
    assert "inspector" not in str(checks)
