"""Projects: district from location, geofences, parties and leads, and who sees what."""

from __future__ import annotations

import pytest

from backend.geo.coords import gcj02_to_wgs84
from tests.support.api import bearer, mp_login, new_permit, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


def _square(lng: float, lat: float, half: float = 0.001) -> dict:
    ring = [[lng - half, lat - half], [lng + half, lat - half], [lng + half, lat + half], [lng - half, lat + half], [lng - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


async def _center(api, headers, adcode):
    return (await api.get(f"/api/v1/districts/{adcode}", headers=headers)).json()["center"]


async def _enterprise(api, admin, q):
    return (await api.get(f"/api/v1/enterprises?q={q}", headers=admin)).json()["items"][0]["id"]


async def test_create_locates_district_and_converts_fence(api, admin):
    gcj = await _center(api, admin, 330303)
    wgs = gcj02_to_wgs84(*gcj)
    body = {
        "name": "龙湾测试项目",
        "permit_no": new_permit(),
        "location": {"lng": wgs[0], "lat": wgs[1], "coord_type": "wgs84"},
        "geofence": _square(*wgs),
        "parties": [{"enterprise_id": await _enterprise(api, admin, "瓯江"), "role": "general_contractor"}],
    }
    resp = await api.post("/api/v1/projects", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    project = resp.json()
    assert project["district_adcode"] == 330303
    assert abs(project["location"][0] - gcj[0]) < 1e-6 and abs(project["location"][1] - gcj[1]) < 1e-6
    ring = project["geofence"]["coordinates"][0]
    assert abs(ring[0][0] - (gcj[0] - 0.001)) < 2e-4  # vertices moved to GCJ-02 too
    assert project["parties"][0]["role"] == "general_contractor"
    dup = await api.post("/api/v1/projects", json={**body, "permit_no": body["permit_no"].lower()}, headers=admin)
    assert_error(dup, 409, "PERMIT_DUPLICATE")


async def test_inspector_creates_only_in_own_district(api):
    inspector = await staff_token(api, "lc_inspector")
    lw = await _center(api, inspector, 330303)
    body = {"name": "越界项目", "permit_no": new_permit(), "location": {"lng": lw[0], "lat": lw[1], "coord_type": "gcj02"}}
    assert_error(await api.post("/api/v1/projects", json=body, headers=inspector), 403, "FORBIDDEN_DISTRICT")
    lc = await _center(api, inspector, 330302)
    body = {"name": "本区项目", "permit_no": new_permit(), "location": {"lng": lc[0], "lat": lc[1], "coord_type": "gcj02"}}
    assert (await api.post("/api/v1/projects", json=body, headers=inspector)).status_code == 201


async def test_bad_locations_and_fences(api, admin):
    outside = {"name": "北京项目", "permit_no": new_permit(), "location": {"lng": 116.39, "lat": 39.9, "coord_type": "gcj02"}}
    assert_error(await api.post("/api/v1/projects", json=outside, headers=admin), 400, "OUTSIDE_DISTRICTS")
    lc = await _center(api, admin, 330302)
    base = {"name": "围栏项目", "permit_no": new_permit(), "location": {"lng": lc[0], "lat": lc[1], "coord_type": "gcj02"}}
    bowtie = {"type": "Polygon", "coordinates": [[[lc[0], lc[1]], [lc[0] + 0.001, lc[1] + 0.001], [lc[0] + 0.001, lc[1]], [lc[0], lc[1] + 0.001], [lc[0], lc[1]]]]}
    assert_error(await api.post("/api/v1/projects", json={**base, "geofence": bowtie}, headers=admin), 400, "GEOFENCE_INVALID")
    far = _square(lc[0] + 0.05, lc[1])
    assert_error(await api.post("/api/v1/projects", json={**base, "geofence": far}, headers=admin), 400, "LOCATION_OUTSIDE_FENCE")
    bad_range = {**base, "location": {"lng": 200, "lat": 28, "coord_type": "gcj02"}}
    assert_error(await api.post("/api/v1/projects", json=bad_range, headers=admin), 400, "COORD_OUT_OF_RANGE")


async def test_party_roles_must_match_enterprise_kinds(api, admin):
    lc = await _center(api, admin, 330302)
    cement = await _enterprise(api, admin, "永固")
    body = {
        "name": "错配项目",
        "permit_no": new_permit(),
        "location": {"lng": lc[0], "lat": lc[1], "coord_type": "gcj02"},
        "parties": [{"enterprise_id": cement, "role": "labour_subcontractor"}],
    }
    assert_error(await api.post("/api/v1/projects", json=body, headers=admin), 400, "PARTY_ROLE_MISMATCH")


async def test_visibility_by_district_lead_and_supervisor(api, admin):
    lc_inspector = await staff_token(api, "lc_inspector")
    listing = (await api.get("/api/v1/projects?limit=200", headers=lc_inspector)).json()
    assert listing["total"] >= 1 and all(p["district_adcode"] == 330302 for p in listing["items"])
    assert_error(await api.get("/api/v1/projects?district_adcode=330303", headers=lc_inspector), 403, "FORBIDDEN_DISTRICT")

    everything = (await api.get("/api/v1/projects?limit=200", headers=admin)).json()
    longwan = next(p for p in everything["items"] if p["district_adcode"] == 330303)
    assert_error(await api.get(f"/api/v1/projects/{longwan['id']}", headers=lc_inspector), 403, "FORBIDDEN_DISTRICT")
    lw_inspector = await staff_token(api, "lw_inspector")
    assert (await api.get(f"/api/v1/projects/{longwan['id']}", headers=lw_inspector)).status_code == 200

    lead = await staff_token(api, "lead_wang")
    led = (await api.get("/api/v1/projects", headers=lead)).json()
    assert {p["permit_no"] for p in led["items"]} >= {"330302202603150101", "330303202604020201"}
    ruian = next(p for p in everything["items"] if p["permit_no"] == "330381202605100301")
    assert_error(await api.get(f"/api/v1/projects/{ruian['id']}", headers=lead), 403, "FORBIDDEN_OWNER")

    supervisor = await staff_token(api, "sup_li")
    supervised = (await api.get("/api/v1/projects", headers=supervisor)).json()
    assert "330381202605100301" in {p["permit_no"] for p in supervised["items"]}

    citizen = bearer(await mp_login(api))
    assert_error(await api.get("/api/v1/projects", headers=citizen), 403, "FORBIDDEN_ROLE")


async def test_update_parties_and_leads(api, admin):
    lc = await _center(api, admin, 330302)
    created = (await api.post("/api/v1/projects", json={"name": "变更项目", "permit_no": new_permit(), "location": {"lng": lc[0], "lat": lc[1], "coord_type": "gcj02"}}, headers=admin)).json()
    pid = created["id"]
    labour = await _enterprise(api, admin, "安居")
    resp = await api.put(f"/api/v1/projects/{pid}/parties", json={"parties": [{"enterprise_id": labour, "role": "labour_subcontractor"}]}, headers=admin)
    assert resp.status_code == 200 and [p["role"] for p in resp.json()["parties"]] == ["labour_subcontractor"]
    lead_id = (await api.get("/api/v1/me", headers=await staff_token(api, "lead_wang"))).json()["id"]
    resp = await api.post(f"/api/v1/projects/{pid}/leads", json={"user_id": lead_id}, headers=admin)
    assert resp.status_code == 200 and resp.json()["leads"][0]["user_id"] == lead_id
    inspector_id = (await api.get("/api/v1/me", headers=await staff_token(api, "lc_inspector"))).json()["id"]
    assert_error(await api.post(f"/api/v1/projects/{pid}/leads", json={"user_id": inspector_id}, headers=admin), 400, "USER_NOT_PROJECT_LEAD_ROLE")
    resp = await api.delete(f"/api/v1/projects/{pid}/leads/{lead_id}", headers=admin)
    assert resp.status_code == 200 and resp.json()["leads"] == []
    resp = await api.patch(f"/api/v1/projects/{pid}", json={"status": "suspended", "name": "停工项目"}, headers=admin)
    assert resp.json()["status"] == "suspended" and resp.json()["name"] == "停工项目"
    lw_inspector = await staff_token(api, "lw_inspector")
    assert_error(await api.patch(f"/api/v1/projects/{pid}", json={"status": "completed"}, headers=lw_inspector), 403, "FORBIDDEN_DISTRICT")


async def test_status_follows_the_stage_and_only_a_stop_work_order_is_set_by_hand(api, admin):
    """Issue 20: PATCH cannot set status independently of the stage (moved only by /projects/{id}/stage)."""
    lc = await _center(api, admin, 330302)

    async def create(status: str) -> dict:
        resp = await api.post("/api/v1/projects", json={"name": f"状态项目{status}", "permit_no": new_permit(), "status": status,
                                                        "location": {"lng": lc[0], "lat": lc[1], "coord_type": "gcj02"}}, headers=admin)
        assert resp.status_code == 201, resp.text
        return resp.json()

    planned = await create("planned")
    assert (planned["status"], planned["stage"]) == ("planned", "approved")
    for wanted in ("under_construction", "completed", "suspended"):
        resp = await api.patch(f"/api/v1/projects/{planned['id']}", json={"status": wanted}, headers=admin)
        assert_error(resp, 409, "PROJECT_STATUS_FOLLOWS_STAGE")
        assert resp.json()["detail"] == {"stage": "approved", "status": "planned", "allowed": ["planned"]}
    same = await api.patch(f"/api/v1/projects/{planned['id']}", json={"status": "planned", "name": "改名"}, headers=admin)
    assert same.status_code == 200 and same.json()["status"] == "planned" and same.json()["name"] == "改名"

    started = await create("under_construction")
    assert started["stage"] == "started"
    assert_error(await api.patch(f"/api/v1/projects/{started['id']}", json={"status": "completed"}, headers=admin),
                 409, "PROJECT_STATUS_FOLLOWS_STAGE")
    assert_error(await api.patch(f"/api/v1/projects/{started['id']}", json={"status": "planned"}, headers=admin),
                 409, "PROJECT_STATUS_FOLLOWS_STAGE")
    stopped = await api.patch(f"/api/v1/projects/{started['id']}", json={"status": "suspended"}, headers=admin)
    assert stopped.status_code == 200 and stopped.json()["status"] == "suspended"
    assert_error(await api.patch(f"/api/v1/projects/{started['id']}", json={"status": "completed"}, headers=admin),
                 409, "PROJECT_STATUS_FOLLOWS_STAGE")
    resumed = await api.patch(f"/api/v1/projects/{started['id']}", json={"status": "under_construction"}, headers=admin)
    assert resumed.status_code == 200 and resumed.json()["status"] == "under_construction"
    got = (await api.get(f"/api/v1/projects/{started['id']}", headers=admin)).json()
    assert (got["status"], got["stage"]) == ("under_construction", "started")

    done = await create("completed")
    assert (done["status"], done["stage"]) == ("completed", "completion_accepted")
    assert_error(await api.patch(f"/api/v1/projects/{done['id']}", json={"status": "suspended"}, headers=admin),
                 409, "PROJECT_STATUS_FOLLOWS_STAGE")


async def test_nearby_projects_for_citizens(api, admin):
    lc = await _center(api, admin, 330302)
    near = (await api.post("/api/v1/projects", json={"name": "附近工地", "permit_no": new_permit(), "location": {"lng": lc[0] + 0.002, "lat": lc[1], "coord_type": "gcj02"}}, headers=admin)).json()
    citizen = bearer(await mp_login(api))
    wgs = gcj02_to_wgs84(*lc)
    resp = await api.get(f"/mp/v1/projects/nearby?lng={wgs[0]}&lat={wgs[1]}&radius_m=500", headers=citizen)
    assert resp.status_code == 200, resp.text
    found = {p["id"]: p for p in resp.json()}
    assert near["id"] in found and 150 < found[near["id"]]["distance_m"] < 260
    assert set(found[near["id"]]) == {"id", "name", "address", "distance_m"}
    distances = [p["distance_m"] for p in resp.json()]
    assert distances == sorted(distances)
    assert_error(await api.get(f"/mp/v1/projects/nearby?lng={wgs[0]}&lat={wgs[1]}&radius_m=50000", headers=citizen), 400, "VALIDATION_ERROR")
    assert_error(await api.get("/mp/v1/projects/mine", headers=citizen), 403, "FORBIDDEN_ROLE")
