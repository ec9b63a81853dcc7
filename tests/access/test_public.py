"""Public surfaces and hostile input: Open311 to the letter, the complaint privacy rule, JSON depth, ratings, logs."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
import structlog

from tests.complaints.helpers import inside, photo
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = "13912345678"


async def _complaint(api, admin, description: str, pair=None, point=None):
    pair = pair or await mp_login(api)
    lng, lat = point or await inside(api, admin, 330302)
    resp = await api.post("/mp/v1/complaints", json={
        "category": "leak", "description": description, "address": "鹿城区某小区5幢302室",
        "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"}, "photo_ids": [await photo(api, pair)]},
        headers=bearer(pair))
    assert resp.status_code == 201, resp.text
    return pair, resp.json(), (lng, lat)


async def test_open311_requests_are_public_and_show_only_the_public_view(api, admin):
    hostile = f"家里卫生间顶板漏水，联系我 {PHONE}\x1b[31m\x0b\x0c\ufffe 或 0577-88881234 {uuid.uuid4().hex[:6]}"
    _, created, _ = await _complaint(api, admin, hostile)
    for fmt in ("json", "xml"):
        one = await api.get(f"/open311/v2/requests/{created['id']}.{fmt}")  # no api_key: public by the spec
        assert one.status_code == 200, one.text
        assert PHONE not in one.text and "88881234" not in one.text and "5幢302室" not in one.text
        assert "X-Amz" not in one.text and "photos" not in one.text
    assert one.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(one.content)  # well-formed although the description held ESC, VT, FF and U+FFFE
    assert "[电话已隐藏]" in root.find("request/description").text
    listing = await api.get("/open311/v2/requests.xml", params={"status": "open,closed", "service_code": "leak"})
    assert listing.status_code == 200 and listing.headers["content-type"] == "text/xml; charset=utf-8"
    ids = [r.find("service_request_id").text for r in ET.fromstring(listing.content)]
    assert created["id"] in ids
    both = (await api.get("/open311/v2/requests.json", params={"status": "open,closed"})).json()
    only_open = (await api.get("/open311/v2/requests.json", params={"status": "open"})).json()
    assert len(both) >= len(only_open) and created["id"] in {r["service_request_id"] for r in both}
    bad = await api.get("/open311/v2/requests.json", params={"status": "open,pending"})
    assert bad.status_code == 400 and bad.json() == [{"code": 400, "description": bad.json()[0]["description"]}]
    missing = await api.get(f"/open311/v2/requests/{uuid.uuid4()}.json")
    assert missing.status_code == 404 and isinstance(missing.json()[0]["code"], int)


async def test_joiners_see_only_the_public_view_and_similar_is_for_citizens(api, admin):
    reporter, created, (lng, lat) = await _complaint(api, admin, f"楼上渗水到我家，电话{PHONE}，{uuid.uuid4().hex[:6]}")
    neighbour = bearer(await mp_login(api))
    near = await api.get("/mp/v1/complaints/similar", params={"category": "leak", "lng": lng, "lat": lat,
                                                              "coord_type": "gcj02"}, headers=neighbour)
    assert near.status_code == 200 and created["id"] in {c["id"] for c in near.json()} and PHONE not in near.text
    joined = await api.post(f"/mp/v1/complaints/{created['id']}/join", headers=neighbour)
    assert joined.status_code == 200, joined.text
    view = joined.json()
    assert view["address"] == "" and view["photos"] == [] and PHONE not in joined.text
    assert abs(view["location"][0] - lng) < 1e-3 and view["location"] != [lng, lat]
    own = (await api.get(f"/mp/v1/complaints/{created['id']}", headers=bearer(reporter))).json()
    assert own["address"] == "鹿城区某小区5幢302室" and len(own["photos"]) == 1 and PHONE in own["description"]
    # Enterprises (the regulated party) cannot look around or join: citizens only.
    lead = await staff_token(api, "lead_wang")
    params = {"category": "leak", "lng": lng, "lat": lat, "coord_type": "gcj02"}
    assert_error(await api.get("/mp/v1/complaints/similar", params=params, headers=lead), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(f"/mp/v1/complaints/{created['id']}/join", headers=lead), 403, "FORBIDDEN_ROLE")


async def test_similar_is_rate_limited_per_citizen(api, admin):
    citizen = bearer(await mp_login(api))
    lng, lat = await inside(api, admin, 330302)
    params = {"category": "leak", "lng": lng, "lat": lat, "coord_type": "gcj02"}
    for _ in range(30):
        assert (await api.get("/mp/v1/complaints/similar", params=params, headers=citizen)).status_code == 200
    assert_error(await api.get("/mp/v1/complaints/similar", params=params, headers=citizen), 429, "RATE_LIMITED")


async def test_a_rating_is_final_once_the_case_is_closed(api, admin):
    pair, created, _ = await _complaint(api, admin, f"墙体开裂 {uuid.uuid4().hex[:6]}")
    lc_admin = await staff_token(api, "lc_admin")
    cid = created["id"]
    for step in ("accept", "start"):
        assert (await api.post(f"/api/v1/complaints/{cid}/{step}", headers=lc_admin)).status_code == 200
    after = await photo(api, {"access_token": lc_admin["Authorization"].split()[1]}, purpose="complaint_result")
    resolved = await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "已责令返工，复查合格", "photo_ids": [after]},
                              headers=lc_admin)
    assert resolved.status_code == 200, resolved.text
    assert (await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 2}, headers=bearer(pair))).status_code == 200
    assert (await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 3}, headers=bearer(pair))).status_code == 200
    assert (await api.post(f"/mp/v1/complaints/{cid}/confirm", headers=bearer(pair))).status_code == 200
    assert_error(await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 5}, headers=bearer(pair)), 409, "RATING_FINAL")
    staff = (await api.get(f"/api/v1/complaints/{cid}", headers=lc_admin)).json()
    assert staff["satisfaction"] == 3


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/mp/v1/auth/login", "/mp/v1/complaints", "/api/v1/auth/refresh"])
async def test_json_nested_1000_deep_is_refused_before_decoding(api, path):
    body = "[" * 1000 + "]" * 1000
    resp = await api.post(path, content=body, headers={"content-type": "application/json"})
    assert_error(resp, 400, "JSON_TOO_DEEP")
    deep_object = '{"a":' * 1000 + "1" + "}" * 1000
    assert_error(await api.post(path, content=deep_object, headers={"content-type": "application/json"}), 400, "JSON_TOO_DEEP")
    # Brackets inside strings are text, not nesting.
    fine = await api.post("/api/v1/auth/login", json={"username": "[" * 500, "password": "{" * 500})
    assert fine.status_code in (400, 401), fine.text


async def test_the_access_log_records_the_status_sent(api, monkeypatch):
    import backend.http

    lines: list[dict] = []

    class Recorder:  # the tests log at WARNING; record the access-log line itself
        def info(self, event, **kw):
            lines.append({"event": event, **kw})

        def __getattr__(self, name):
            return getattr(structlog.get_logger("zhijian.http"), name)

    monkeypatch.setattr(backend.http, "log", Recorder())
    resp = await api.get("/api/v1/me")  # refused by the auth middleware, before any handler
    assert resp.status_code == 401
    denied = await api.get("/api/v1/users", headers=bearer(await mp_login(api)))
    assert denied.status_code == 403
    statuses = [entry["status"] for entry in lines if entry["event"] == "request" and entry["path"] in ("/api/v1/me", "/api/v1/users")]
    assert statuses == [401, 403], lines
