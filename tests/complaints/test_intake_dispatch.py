"""Intake and dispatch: the right district for points in several districts, projects, the city queue."""

from __future__ import annotations

import uuid

import pytest

from tests.complaints.helpers import inside, photo, report
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("adcode", [330302, 330303, 330381, 330382, 330305])
async def test_dispatched_to_the_district_of_the_point(api, admin, adcode):
    _, complaint = await report(api, admin, adcode)
    assert complaint["status"] == "dispatched" and complaint["district_adcode"] == adcode
    assert complaint["station_name"].endswith("监督站")
    assert complaint["number"].startswith("ZJ")
    kinds = [e["kind"] for e in complaint["timeline"]]
    assert kinds == ["submitted", "dispatched"]
    staff = (await api.get(f"/api/v1/complaints/{complaint['id']}", headers=admin)).json()
    if staff["assignee_id"]:
        user = (await api.get(f"/api/v1/users/{staff['assignee_id']}", headers=admin)).json()
        assert user["role"] == "inspector" and user["district_adcode"] == adcode


async def test_a_named_project_wins_over_the_point(api, admin):
    projects = (await api.get("/api/v1/projects?district_adcode=330303", headers=admin)).json()["items"]
    _, complaint = await report(api, admin, 330302, project_id=projects[0]["id"])
    assert complaint["district_adcode"] == 330303 and complaint["project_name"] == projects[0]["name"]


async def test_outside_every_district_goes_to_the_city_queue(api, admin):
    _, complaint = await report(api, admin, None, point=(120.15, 30.28), wgs84=False)  # Hangzhou
    assert complaint["district_adcode"] is None and complaint["status"] == "dispatched"
    queue = (await api.get("/api/v1/complaints?city_queue=true&limit=200", headers=admin)).json()
    assert complaint["id"] in {c["id"] for c in queue["items"]}
    inspector = await staff_token(api, "lc_inspector")
    assert_error(await api.get(f"/api/v1/complaints/{complaint['id']}", headers=inspector), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get("/api/v1/complaints?city_queue=true", headers=inspector), 403, "FORBIDDEN_DISTRICT")


async def test_fewest_open_cases_and_duty(api, admin):
    # 文成县 has no demo inspectors: make two and watch the balance.
    ids = []
    for _ in range(2):
        body = {"role": "inspector", "display_name": "文成监督员", "username": f"wc_{uuid.uuid4().hex[:8]}",
                "password": "Strong-pass-123", "district_adcode": 330328}
        ids.append((await api.post("/api/v1/users", json=body, headers=admin)).json()["id"])
    assigned = []
    for _ in range(4):
        _, c = await report(api, admin, 330328)
        assigned.append((await api.get(f"/api/v1/complaints/{c['id']}", headers=admin)).json()["assignee_id"])
    mine = [a for a in assigned if a in ids]
    assert len(mine) == 4 and abs(mine.count(ids[0]) - mine.count(ids[1])) <= 1
    # An inspector off duty gets no new cases.
    resp = await api.put("/api/v1/complaints/duty", json={"on_duty": False, "user_id": ids[0]}, headers=admin)
    assert resp.status_code == 200 and resp.json()["on_duty"] is False
    for _ in range(2):
        _, c = await report(api, admin, 330328)
        assert (await api.get(f"/api/v1/complaints/{c['id']}", headers=admin)).json()["assignee_id"] != ids[0]


async def test_bad_photos_are_refused_and_nothing_is_written(api, admin):
    pair = await mp_login(api)
    other = await mp_login(api)
    lng, lat = await inside(api, admin, 330302)
    base = {"category": "leak", "description": "地下室外墙渗水严重", "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"}}
    foreign = await photo(api, other)
    selfie = await photo(api, pair, purpose="selfie")
    pending = (await api.post("/mp/v1/media/presign", json={"purpose": "complaint"}, headers=bearer(pair))).json()["media"]["id"]
    cases = [
        ({**base, "photo_ids": [foreign]}, 403, "FORBIDDEN_OWNER"),
        ({**base, "photo_ids": [selfie]}, 400, "MEDIA_WRONG_PURPOSE"),
        ({**base, "photo_ids": [pending]}, 409, "MEDIA_NOT_VERIFIED"),
        ({**base, "photo_ids": [str(uuid.uuid4())]}, 404, "MEDIA_NOT_FOUND"),
        ({**base, "photo_ids": []}, 400, "VALIDATION_ERROR"),
        ({**base, "photo_ids": [selfie] * 10}, 400, "VALIDATION_ERROR"),
        ({**base, "category": "nope", "photo_ids": [selfie]}, 400, "CATEGORY_UNKNOWN"),
        ({**base, "description": "短", "photo_ids": [selfie]}, 400, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        assert_error(await api.post("/mp/v1/complaints", json=body, headers=bearer(pair)), status, code)
    assert (await api.get("/mp/v1/complaints", headers=bearer(pair))).json()["total"] == 0
    # The refused photo is still free to use.
    good = await photo(api, pair)
    ok = await api.post("/mp/v1/complaints", json={**base, "photo_ids": [good]}, headers=bearer(pair))
    assert ok.status_code == 201
    assert_error(await api.post("/mp/v1/complaints", json={**base, "photo_ids": [good]}, headers=bearer(pair)), 409, "MEDIA_ALREADY_USED")


async def test_staff_cannot_file_and_other_citizens_cannot_look(api, admin):
    pair, complaint = await report(api, admin, 330302)
    stranger = await mp_login(api)
    assert_error(await api.get(f"/mp/v1/complaints/{complaint['id']}", headers=bearer(stranger)), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(f"/api/v1/complaints/{complaint['id']}", headers=bearer(stranger)), 403, "FORBIDDEN_ROLE")
    lw = await staff_token(api, "lw_inspector")
    assert_error(await api.get(f"/api/v1/complaints/{complaint['id']}", headers=lw), 403, "FORBIDDEN_DISTRICT")
    assert (await api.get(f"/mp/v1/complaints/{complaint['id']}", headers=bearer(pair))).status_code == 200
    body = {"category": "leak", "description": "监督员自己提交", "location": {"lng": 120.6, "lat": 28.0}, "photo_ids": [str(uuid.uuid4())]}
    assert_error(await api.post("/mp/v1/complaints", json=body, headers=lw), 403, "FORBIDDEN_ROLE")


async def test_similar_reports_and_joining(api, admin):
    pair, complaint = await report(api, admin, 330304, category="structural_crack")
    lng, lat = await inside(api, admin, 330304)
    neighbour = await mp_login(api)
    similar = (await api.get(
        f"/mp/v1/complaints/similar?category=structural_crack&lng={lng + 0.0002}&lat={lat}&coord_type=gcj02",
        headers=bearer(neighbour),
    )).json()
    match = next(s for s in similar if s["id"] == complaint["id"])
    assert match["distance_m"] < 50 and "citizen" not in str(match)
    far = (await api.get(
        f"/mp/v1/complaints/similar?category=structural_crack&lng={lng + 0.002}&lat={lat}&coord_type=gcj02",
        headers=bearer(neighbour),
    )).json()
    assert complaint["id"] not in {s["id"] for s in far}
    other_kind = (await api.get(
        f"/mp/v1/complaints/similar?category=leak&lng={lng}&lat={lat}&coord_type=gcj02", headers=bearer(neighbour)
    )).json()
    assert complaint["id"] not in {s["id"] for s in other_kind}
    joined = await api.post(f"/mp/v1/complaints/{complaint['id']}/join", headers=bearer(neighbour))
    assert joined.status_code == 200 and joined.json()["can_rate"] is False
    assert complaint["id"] in {c["id"] for c in (await api.get("/mp/v1/complaints", headers=bearer(neighbour))).json()["items"]}


async def test_rate_limit_per_citizen(api, admin):
    from backend.settings import get_settings

    pair = await mp_login(api)
    for _ in range(get_settings().COMPLAINTS_PER_HOUR):
        await report(api, admin, 330302, pair=pair)
    lng, lat = await inside(api, admin, 330302)
    body = {"category": "leak", "description": "第十一条投诉内容", "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"},
            "photo_ids": [await photo(api, pair)]}
    assert_error(await api.post("/mp/v1/complaints", json=body, headers=bearer(pair)), 429, "RATE_LIMITED")
