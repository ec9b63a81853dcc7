"""Teams (班组) through the HTTP API on the real services: create, list, get, rename, leader, disband, assign."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_attendance import _ent, _site, _worker
from tests.workforce.test_payroll import _sub_lead

pytestmark = pytest.mark.asyncio(loop_scope="session")

OTHER_LABOUR = "91330382MA2JK9L0M1"  # 温州东海劳务分包有限公司 (demo), not a party of the test projects


async def _enter(api, headers, site, worker_id, **extra):
    resp = await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": worker_id,
                                                 "enterprise_id": site["labour"], **extra}, headers=headers)
    return resp


async def test_team_lifecycle_and_assignment(api, admin):
    site = await _site(api, admin)
    lead = await staff_token(api, "lead_wang")  # the general contractor's lead
    sub = await _sub_lead(api, admin, site["labour"])  # the labour subcontractor's own lead
    w1, w2 = await _worker(api, admin, site["labour"]), await _worker(api, admin, site["labour"])
    stint1 = await _enter(api, sub, site, w1["id"])
    assert stint1.status_code == 201, stint1.text
    assert stint1.json()["team_id"] is None

    made = await api.post("/api/v1/teams", json={"project_id": site["project"], "enterprise_id": site["labour"],
                                                "name": "木工一班", "leader_worker_id": w1["id"]}, headers=sub)
    assert made.status_code == 201, made.text
    team = made.json()
    assert team["name"] == "木工一班" and team["leader_worker_id"] == w1["id"] and team["leader_name"] == "赵六"
    assert team["members"] == 0 and team["disbanded_at"] is None
    assert_error(await api.post("/api/v1/teams", json={"project_id": site["project"], "enterprise_id": site["labour"],
                                                       "name": "木工一班"}, headers=lead), 409, "TEAM_NAME_TAKEN")
    # The leader must be on this project's roster for this subcontractor.
    assert_error(await api.post("/api/v1/teams", json={"project_id": site["project"], "enterprise_id": site["labour"],
                                                       "name": "钢筋班", "leader_worker_id": w2["id"]}, headers=sub),
                 400, "TEAM_LEADER_NOT_ON_ROSTER")
    # A firm that is not a party of the project cannot have a team on it.
    assert_error(await api.post("/api/v1/teams", json={"project_id": site["project"],
                                                       "enterprise_id": await _ent(api, admin, OTHER_LABOUR), "name": "外来班"},
                                headers=admin), 400, "NOT_PROJECT_SUBCONTRACTOR")

    # The team on entry, and moving an open stint into / out of a team.
    stint2 = await _enter(api, lead, site, w2["id"], team_id=team["id"])
    assert stint2.status_code == 201 and stint2.json()["team_id"] == team["id"], stint2.text
    moved = await api.put(f"/api/v1/roster/{stint1.json()['id']}/team", json={"team_id": team["id"]}, headers=sub)
    assert moved.status_code == 200 and moved.json()["team_id"] == team["id"], moved.text
    got = (await api.get(f"/api/v1/teams/{team['id']}", headers=await staff_token(api, "lc_inspector"))).json()
    assert got["members"] == 2

    renamed = await api.patch(f"/api/v1/teams/{team['id']}", json={"name": "木工二班", "leader_worker_id": w2["id"]}, headers=lead)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "木工二班" and renamed.json()["leader_worker_id"] == w2["id"]
    cleared = await api.patch(f"/api/v1/teams/{team['id']}", json={"clear_leader": True}, headers=sub)
    assert cleared.status_code == 200 and cleared.json()["leader_worker_id"] is None and cleared.json()["leader_name"] == ""

    # Disbanding waits until nobody on the roster is left in the team.
    assert_error(await api.patch(f"/api/v1/teams/{team['id']}", json={"disband": True}, headers=sub), 409, "TEAM_NOT_EMPTY")
    out = await api.put(f"/api/v1/roster/{stint1.json()['id']}/team", json={"team_id": None}, headers=sub)
    assert out.status_code == 200 and out.json()["team_id"] is None
    assert (await api.post(f"/api/v1/roster/{stint2.json()['id']}/exit", headers=sub)).status_code == 200
    assert_error(await api.put(f"/api/v1/roster/{stint2.json()['id']}/team", json={"team_id": None}, headers=sub),
                 409, "WORKER_ALREADY_EXITED")
    gone = await api.patch(f"/api/v1/teams/{team['id']}", json={"disband": True}, headers=sub)
    assert gone.status_code == 200 and gone.json()["disbanded_at"] is not None, gone.text
    assert_error(await api.patch(f"/api/v1/teams/{team['id']}", json={"name": "复活"}, headers=sub), 409, "TEAM_DISBANDED")
    assert_error(await api.put(f"/api/v1/roster/{stint1.json()['id']}/team", json={"team_id": team["id"]}, headers=sub),
                 409, "TEAM_DISBANDED")
    assert_error(await _enter(api, sub, site, (await _worker(api, admin, site["labour"]))["id"], team_id=team["id"]),
                 409, "TEAM_DISBANDED")

    listed = (await api.get("/api/v1/teams", params={"project_id": site["project"]}, headers=lead)).json()
    assert team["id"] not in [t["id"] for t in listed]
    listed = (await api.get("/api/v1/teams", params={"project_id": site["project"], "include_disbanded": True},
                            headers=lead)).json()
    assert [t["id"] for t in listed] == [team["id"]]
    assert_error(await api.get(f"/api/v1/teams/{uuid.uuid4()}", headers=lead), 404, "TEAM_NOT_FOUND")


async def test_team_of_another_project_or_firm_is_refused(api, admin):
    site, other_site = await _site(api, admin), await _site(api, admin)
    w = await _worker(api, admin, site["labour"])
    stint = await _enter(api, admin, site, w["id"])
    assert stint.status_code == 201, stint.text
    elsewhere = await api.post("/api/v1/teams", json={"project_id": other_site["project"], "enterprise_id": other_site["labour"],
                                                     "name": "别的项目班组"}, headers=admin)
    assert elsewhere.status_code == 201, elsewhere.text
    assert_error(await api.put(f"/api/v1/roster/{stint.json()['id']}/team", json={"team_id": elsewhere.json()["id"]}, headers=admin),
                 400, "TEAM_OTHER_EMPLOYER")
    assert_error(await api.put(f"/api/v1/roster/{stint.json()['id']}/team", json={"team_id": str(uuid.uuid4())}, headers=admin),
                 404, "TEAM_NOT_FOUND")
    gc_team = await api.post("/api/v1/teams", json={"project_id": site["project"], "enterprise_id": await _ent(api, admin, "91330303MA2CD3E4FR"),
                                                   "name": "总包直属班"}, headers=admin)
    assert gc_team.status_code == 201, gc_team.text
    assert_error(await api.put(f"/api/v1/roster/{stint.json()['id']}/team", json={"team_id": gc_team.json()["id"]}, headers=admin),
                 400, "TEAM_OTHER_EMPLOYER")


async def test_who_may_see_and_change_teams(api, admin):
    site = await _site(api, admin)
    made = await api.post("/api/v1/teams", json={"project_id": site["project"], "enterprise_id": site["labour"], "name": "瓦工班"},
                          headers=await staff_token(api, "lc_admin"))  # the district's regulator admin
    assert made.status_code == 201, made.text
    team_id = made.json()["id"]
    body = {"project_id": site["project"], "enterprise_id": site["labour"], "name": "抹灰班"}
    # An inspector reads but does not change; another district's inspector does neither.
    insp = await staff_token(api, "lc_inspector")
    assert (await api.get("/api/v1/teams", params={"project_id": site["project"]}, headers=insp)).status_code == 200
    assert_error(await api.post("/api/v1/teams", json=body, headers=insp), 403, "FORBIDDEN_ROLE")
    assert_error(await api.patch(f"/api/v1/teams/{team_id}", json={"name": "x班"}, headers=insp), 403, "FORBIDDEN_ROLE")
    far = await staff_token(api, "lw_inspector")
    assert_error(await api.get("/api/v1/teams", params={"project_id": site["project"]}, headers=far), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get(f"/api/v1/teams/{team_id}", headers=far), 403, "FORBIDDEN_DISTRICT")
    # A supervisor (another firm's role) and the lead of a labour firm that is not on the project: refused.
    assert_error(await api.get("/api/v1/teams", params={"project_id": site["project"]},
                               headers=await staff_token(api, "sup_li")), 403, "FORBIDDEN_ROLE")
    stranger = await _sub_lead(api, admin, await _ent(api, admin, OTHER_LABOUR))
    assert_error(await api.post("/api/v1/teams", json=body, headers=stranger), 403, "FORBIDDEN_ROLE")
    assert_error(await api.patch(f"/api/v1/teams/{team_id}", json={"name": "x班"}, headers=stranger), 403, "FORBIDDEN_ROLE")
    # The subcontractor's lead changes its own teams, not the GC's; sees only its own.
    gc = await _ent(api, admin, "91330303MA2CD3E4FR")
    gc_team = await api.post("/api/v1/teams", json={**body, "enterprise_id": gc}, headers=await staff_token(api, "lead_wang"))
    assert gc_team.status_code == 201, gc_team.text
    sub = await _sub_lead(api, admin, site["labour"])
    assert_error(await api.patch(f"/api/v1/teams/{gc_team.json()['id']}", json={"name": "x班"}, headers=sub), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(f"/api/v1/teams/{gc_team.json()['id']}", headers=sub), 404, "TEAM_NOT_FOUND")
    seen = (await api.get("/api/v1/teams", params={"project_id": site["project"]}, headers=sub)).json()
    assert [t["id"] for t in seen] == [team_id]
    assert_error(await api.post("/api/v1/teams", json={**body, "name": ""}, headers=sub), 400, "VALIDATION_ERROR")
