"""Roster entry/exit, WeChat linking and clock-in/out through the HTTP API on the real services."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from stdnum.cn import ric

from backend.accounts.tables import User
from backend.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from backend.geo.distance import haversine_m
from backend.media.tables import Media
from tests.support.api import STAFF_PASSWORD, bearer, mp_login, new_permit, new_uscc, staff_token
from tests.support.asserts import assert_error
from tests.support.images import encode, jpeg_with_gps, scene

pytestmark = pytest.mark.asyncio(loop_scope="session")

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务有限公司 (demo)
GC = "91330303MA2CD3E4FR"  # 浙江瓯江建设集团有限公司 (demo; lead_wang works for it)
D = 0.002  # half side of the square geofence, degrees (~200 m)


def _id_number() -> str:
    body = f"330302{random.randint(1986, 2000)}0{random.randint(1, 9)}1{random.randint(0, 8)}{random.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


async def _ent(api, admin, uscc):
    return (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()["items"][0]["id"]


async def _site(api, admin, adcode: int = 330302) -> dict:
    district = (await api.get(f"/api/v1/districts/{adcode}", headers=admin)).json()
    lng, lat = district["center"]
    fence = {"type": "Polygon", "coordinates": [[[lng - D, lat - D], [lng + D, lat - D], [lng + D, lat + D],
                                                  [lng - D, lat + D], [lng - D, lat - D]]]}
    resp = await api.post("/api/v1/projects", json={
        "name": "考勤测试项目", "permit_no": new_permit(), "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"},
        "geofence": fence,
        "parties": [{"enterprise_id": await _ent(api, admin, LABOUR), "role": "labour_subcontractor"},
                    {"enterprise_id": await _ent(api, admin, GC), "role": "general_contractor"}]}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"project": resp.json()["id"], "lng": lng, "lat": lat, "labour": await _ent(api, admin, LABOUR)}


async def _worker(api, admin, labour, contract=True, phone=None) -> dict:
    number = _id_number()
    body = {"name": "赵六", "id_number": number, "employer_id": labour, "contract_signed": contract}
    if phone:
        body["phone"] = phone
    resp = await api.post("/api/v1/workers", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    code = await api.post(f"/api/v1/workers/{resp.json()['id']}/bind-code", headers=admin)  # handed to the worker
    assert code.status_code == 201, code.text
    return {**resp.json(), "id_number": number, "phone": phone, "bind_code": code.json()["code"]}


async def _linked(api, worker) -> dict[str, str]:
    pair = await mp_login(api)
    resp = await api.post("/mp/v1/workforce/link", json={"id_number": worker["id_number"], "name": "赵六",
                                                         "bind_code": worker["bind_code"]}, headers=bearer(pair))
    assert resp.status_code == 200, resp.text
    return bearer(resp.json())


async def _selfie(api, headers, seed: int | None = None) -> str:
    """Upload a selfie of its own (a scene no other test picture shares) and return its media id."""
    data = encode(scene(random.randrange(1 << 30) if seed is None else seed), ".jpg")
    up = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", data, "image/jpeg")},
                        headers=headers)
    assert up.status_code == 201, up.text
    return up.json()["id"]


def _honest_pair(body: dict) -> dict:
    """What the mini-program sends: the reading in the declared type and the same moment's in the other type."""
    if body.get("coord_type", "wgs84") == "gcj02":
        alt = gcj02_to_wgs84(body["lng"], body["lat"])
    else:
        alt = wgs84_to_gcj02(body["lng"], body["lat"])
    return {**body, "alt_lng": alt[0], "alt_lat": alt[1]}


async def _clock_post(api, body, headers, *, pair: bool = True):
    """POST a clock as the mini-program does: a fresh selfie of the caller unless the body names one (the
    selfie is required), and the other coordinate type's reading unless ``pair`` is False or one is given."""
    if "selfie_media_id" not in body:
        body = {**body, "selfie_media_id": await _selfie(api, headers)}
    if pair and "alt_lng" not in body and "lng" in body:
        body = _honest_pair(body)
    return await api.post("/mp/v1/workforce/clocks", json=body, headers=headers)


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def test_roster_entry_exit_history_and_refusals(api, admin):
    site = await _site(api, admin)
    w = await _worker(api, admin, site["labour"])
    lead = await staff_token(api, "lead_wang")  # the general contractor's lead may manage the roster
    body = {"project_id": site["project"], "worker_id": w["id"], "enterprise_id": site["labour"], "trade": "木工",
            "daily_rate_fen": 40000}
    first = await api.post("/api/v1/roster", json=body, headers=lead)
    assert first.status_code == 201, first.text
    assert first.json()["exited_at"] is None and first.json()["entered_by"] is not None
    assert_error(await api.post("/api/v1/roster", json=body, headers=lead), 409, "WORKER_ALREADY_ON_ROSTER")
    unsigned = await _worker(api, admin, site["labour"], contract=False)
    assert_error(await api.post("/api/v1/roster", json={**body, "worker_id": unsigned["id"]}, headers=lead), 400, "WORKER_NO_CONTRACT")
    cement = await _ent(api, admin, "91330300MA2LM1N2PN")
    assert_error(await api.post("/api/v1/roster", json={**body, "enterprise_id": cement}, headers=admin), 400, "NOT_PROJECT_SUBCONTRACTOR")
    out = await api.post(f"/api/v1/roster/{first.json()['id']}/exit", headers=lead)
    assert out.status_code == 200 and out.json()["exited_at"] is not None and out.json()["exited_by"] is not None
    assert_error(await api.post(f"/api/v1/roster/{first.json()['id']}/exit", headers=lead), 409, "WORKER_ALREADY_EXITED")
    again = await api.post("/api/v1/roster", json=body, headers=lead)  # a re-entry is a new stint
    assert again.status_code == 201, again.text
    by_project = (await api.get("/api/v1/roster", params={"project_id": site["project"]}, headers=lead)).json()
    assert [s["id"] for s in by_project] == [first.json()["id"], again.json()["id"]]
    by_worker = (await api.get("/api/v1/roster", params={"worker_id": w["id"]}, headers=await staff_token(api, "lc_inspector"))).json()
    assert len(by_worker) == 2 and by_worker[0]["exited_at"] is not None and by_worker[1]["exited_at"] is None
    # Another district's inspector, a supervisor of another firm, a citizen: refused.
    assert_error(await api.get("/api/v1/roster", params={"project_id": site["project"]}, headers=await staff_token(api, "lw_inspector")),
                 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.get("/api/v1/roster", params={"project_id": site["project"]}, headers=await staff_token(api, "sup_li")),
                 403, "FORBIDDEN_ROLE")
    assert_error(await api.post("/api/v1/roster", json=body, headers=bearer(await mp_login(api))), 403, "FORBIDDEN_ROLE")
    # Another labour subcontractor's lead cannot see this roster.
    other = (await api.post("/api/v1/enterprises", json={"name": f"别家劳务{uuid.uuid4().hex[:4]}", "uscc": new_uscc(),
                                                         "kinds": ["labour_subcontractor"]}, headers=admin))
    assert other.status_code == 201, other.text
    username = f"lab_{uuid.uuid4().hex[:6]}"
    made = await api.post("/api/v1/users", json={"role": "project_lead", "display_name": "别家负责人", "username": username,
                                                 "password": STAFF_PASSWORD, "enterprise_id": other.json()["id"]}, headers=admin)
    assert made.status_code == 201, made.text
    assert_error(await api.get("/api/v1/roster", params={"project_id": site["project"]}, headers=await staff_token(api, username)),
                 403, "FORBIDDEN_ROLE")


async def test_linking_good_and_bad(api, admin):
    """Issue 19: name + ID number are known to many people; linking needs a factor the worker holds (the
    employer's one-time bind code) and is rate limited per account and per ID number."""
    site = await _site(api, admin)
    w = await _worker(api, admin, site["labour"], phone="13912345678")
    link = "/mp/v1/workforce/link"
    good = {"id_number": w["id_number"], "name": "赵六", "bind_code": w["bind_code"]}
    pair = await mp_login(api)
    assert_error(await api.post(link, json={**good, "name": "钱七"}, headers=bearer(pair)), 400, "WORKER_LINK_MISMATCH")
    assert_error(await api.post(link, json={**good, "bind_code": ""}, headers=bearer(pair)), 400, "WORKER_BIND_CODE_INVALID")
    assert_error(await api.post(link, json={**good, "bind_code": "ABCDEFGH"}, headers=bearer(pair)), 400,
                 "WORKER_BIND_CODE_INVALID")
    assert_error(await api.post(link, json={**good, "phone": "13900000000"}, headers=bearer(pair)), 400, "WORKER_LINK_MISMATCH")
    ok = await api.post(link, json={**good, "bind_code": w["bind_code"].lower()}, headers=bearer(pair))
    assert ok.status_code == 200 and ok.json()["worker_id"] == w["id"], ok.text
    me = (await api.get("/mp/v1/me", headers=bearer(ok.json()))).json()
    assert me["role"] == "worker"
    # The code is single-use: someone else with it gets nowhere.
    someone = await mp_login(api)
    assert_error(await api.post(link, json=good, headers=bearer(someone)), 400, "WORKER_BIND_CODE_INVALID")
    w2 = await _worker(api, admin, site["labour"])
    assert_error(await api.post(link, json={"id_number": w2["id_number"], "name": "赵六", "bind_code": w2["bind_code"]},
                                headers=bearer(ok.json())), 409, "USER_ALREADY_WORKER")
    # Only the employer's side issues codes; a new code replaces the old one.
    assert_error(await api.post(f"/api/v1/workers/{w2['id']}/bind-code", headers=bearer(someone)), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(f"/api/v1/workers/{w2['id']}/bind-code", headers=await staff_token(api, "lc_inspector")),
                 403, "FORBIDDEN_ROLE")
    fresh = (await api.post(f"/api/v1/workers/{w2['id']}/bind-code", headers=await staff_token(api, "lead_wang"))).json()["code"]
    assert fresh != w2["bind_code"]
    # Guessing: five tries per account an hour and per ID number a day, then RATE_LIMITED even with the right code.
    w3 = await _worker(api, admin, site["labour"])
    guesser = bearer(await mp_login(api))
    for _ in range(5):
        assert_error(await api.post(link, json={"id_number": w3["id_number"], "name": "赵六", "bind_code": "WRONG234"},
                                    headers=guesser), 400, "WORKER_BIND_CODE_INVALID")
    right = {"id_number": w3["id_number"], "name": "赵六", "bind_code": w3["bind_code"]}
    assert_error(await api.post(link, json=right, headers=guesser), 429, "RATE_LIMITED")
    for _ in range(3):  # other accounts do not get five more tries at the same worker
        assert_error(await api.post(link, json=right, headers=bearer(await mp_login(api))), 429, "RATE_LIMITED")
    # Another worker is not affected by w3's limit; a success clears the account's counter.
    assert (await api.post(link, json={"id_number": w2["id_number"], "name": "赵六", "bind_code": fresh},
                           headers=bearer(await mp_login(api)))).status_code == 200
    # A citizen who is not a worker cannot clock.
    assert_error(await _clock_post(api, {"kind": "in", "project_id": site["project"], "lng": site["lng"],
                                         "lat": site["lat"], "at": _now()}, bearer(someone)), 403, "FORBIDDEN_ROLE")


async def test_clock_in_out_refusals_offline_idempotent(api, admin):
    site = await _site(api, admin)
    w = await _worker(api, admin, site["labour"])
    me = await _linked(api, w)
    wgs = gcj02_to_wgs84(site["lng"], site["lat"])
    base = {"project_id": site["project"], "lng": wgs[0], "lat": wgs[1], "coord_type": "wgs84", "accuracy_m": 10, "device_id": "dev-1"}
    assert_error(await _clock_post(api, {**base, "kind": "in", "at": _now()}, headers=me), 403, "NOT_ON_ROSTER")
    entered = await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": w["id"], "enterprise_id": site["labour"]},
                             headers=admin)
    assert entered.status_code == 201, entered.text
    t0 = datetime.now(UTC) - timedelta(hours=3)
    rid = uuid.uuid4().hex
    selfie = await _selfie(api, me)
    first = await _clock_post(api, {**base, "kind": "in", "at": t0.isoformat(), "request_id": rid, "selfie_media_id": selfie},
                              headers=me)
    assert first.status_code == 201, first.text
    got = first.json()
    assert got["offline"] is True and got["fence_distance_m"] == 0.0  # 3 h late: kept its time, flagged
    assert abs(got["lng"] - site["lng"]) < 1e-5 and abs(got["lat"] - site["lat"]) < 1e-5  # stored in GCJ-02
    retry = await _clock_post(api, {**base, "kind": "in", "at": t0.isoformat(), "request_id": rid, "selfie_media_id": selfie},
                              headers=me)
    assert retry.status_code == 200 and retry.json()["id"] == got["id"]
    # The same request_id with another body is not a retry: a clear conflict, nothing stored.
    assert_error(await _clock_post(api, {**base, "kind": "out", "at": _now(), "request_id": rid, "selfie_media_id": selfie},
                                   headers=me), 409, "REQUEST_ID_REUSED")
    # 3 h late, and dated before the roster entry made a moment ago (先签合同后进场): waits for review.
    assert got["flags"] == ["offline", "before_entry"] and got["review_status"] == "pending"
    assert got["declared_coord_type"] == "wgs84" and got["coord_type"] == "gcj02"
    assert_error(await api.post("/mp/v1/workforce/clocks", json={**base, "kind": "out", "at": _now()}, headers=me),
                 400, "SELFIE_REQUIRED")
    assert_error(await _clock_post(api, {**base, "kind": "in", "at": (t0 + timedelta(minutes=1)).isoformat()},
                                headers=me), 400, "DUPLICATE_CLOCK")
    out = await _clock_post(api, {**base, "kind": "out", "at": _now()}, headers=me)
    assert out.status_code == 201 and out.json()["offline"] is False
    assert_error(await _clock_post(api, {**base, "kind": "in", "at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
                                headers=me), 400, "CLOCK_IN_FUTURE")
    assert_error(await _clock_post(api, {**base, "kind": "in", "at": (datetime.now(UTC) - timedelta(hours=25)).isoformat()},
                                headers=me), 400, "CLOCK_TOO_LATE")
    far = {**base, "coord_type": "gcj02", "lng": site["lng"] + D + 0.01, "lat": site["lat"]}  # ~1 km outside
    assert_error(await _clock_post(api, {**far, "kind": "in", "at": _now()}, headers=me), 400, "OUTSIDE_FENCE")
    # Someone else's selfie is refused.
    other = await mp_login(api)
    up = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", jpeg_with_gps(), "image/jpeg")},
                        headers=bearer(other))
    assert up.status_code == 201, up.text
    assert_error(await _clock_post(api, {**base, "kind": "in", "at": _now(), "selfie_media_id": up.json()["id"]},
                                headers=me), 403, "FORBIDDEN_OWNER")
    mine = (await api.get("/mp/v1/workforce/clocks", headers=me)).json()
    assert [c["kind"] for c in mine] == ["out", "in"]
    day = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date().isoformat()
    staff = (await api.get("/api/v1/attendance", params={"project_id": site["project"], "day": day},
                           headers=await staff_token(api, "lc_inspector"))).json()
    assert got["id"] in [c["id"] for c in staff] or t0.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date().isoformat() != day
    assert out.json()["id"] in [c["id"] for c in staff]
    assert_error(await api.get("/api/v1/attendance", params={"project_id": site["project"], "day": day},
                               headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")


async def _on_roster(api, admin, site, worker) -> None:
    resp = await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": worker["id"],
                                                 "enterprise_id": site["labour"]}, headers=admin)
    assert resp.status_code == 201, resp.text


def _at(site, minutes_ago: float) -> dict:
    return {"kind": "in", "project_id": site["project"], "lng": site["lng"], "lat": site["lat"], "coord_type": "gcj02",
            "accuracy_m": 10, "at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()}


async def test_impossible_travel_between_sites(api, admin):
    here, there = await _site(api, admin, 330302), await _site(api, admin, 330381)  # 鹿城 and 瑞安
    km = haversine_m(here["lng"], here["lat"], there["lng"], there["lat"]) / 1000
    assert km > 20, km  # 6 minutes apart is > 200 km/h: not a person travelling
    w = await _worker(api, admin, here["labour"])
    me = await _linked(api, w)
    await _on_roster(api, admin, here, w)
    await _on_roster(api, admin, there, w)
    assert (await _clock_post(api, _at(here, 6), headers=me)).status_code == 201
    assert_error(await _clock_post(api, _at(there, 0), headers=me), 400, "IMPOSSIBLE_TRAVEL")
    # With hours between the two clocks the same trip is fine.
    w2 = await _worker(api, admin, here["labour"])
    me2 = await _linked(api, w2)
    await _on_roster(api, admin, here, w2)
    await _on_roster(api, admin, there, w2)
    assert (await _clock_post(api, _at(here, 180), headers=me2)).status_code == 201
    assert (await _clock_post(api, _at(there, 0), headers=me2)).status_code == 201


async def test_project_without_geofence_and_other_refusals(api, admin):
    site = await _site(api, admin)
    district = (await api.get("/api/v1/districts/330302", headers=admin)).json()
    bare = await api.post("/api/v1/projects", json={
        "name": "无围栏项目", "permit_no": new_permit(),
        "location": {"lng": district["center"][0], "lat": district["center"][1], "coord_type": "gcj02"},
        "parties": [{"enterprise_id": site["labour"], "role": "labour_subcontractor"}]}, headers=admin)
    assert bare.status_code == 201, bare.text
    nofence = {**site, "project": bare.json()["id"]}
    w = await _worker(api, admin, site["labour"])
    me = await _linked(api, w)
    await _on_roster(api, admin, nofence, w)
    assert_error(await _clock_post(api, _at(nofence, 0), headers=me), 409, "PROJECT_NO_GEOFENCE")
    assert_error(await _clock_post(api, {**_at(site, 0), "project_id": str(uuid.uuid4())}, headers=me),
                 404, "PROJECT_NOT_FOUND")
    naive = {**_at(site, 0), "at": datetime.now(UTC).replace(tzinfo=None).isoformat()}
    assert_error(await _clock_post(api, naive, headers=me), 400, "VALIDATION_ERROR")
    # Another worker's request_id is not this worker's retry.
    await _on_roster(api, admin, site, w)
    other = await _worker(api, admin, site["labour"])
    other_me = await _linked(api, other)
    await _on_roster(api, admin, site, other)
    rid = uuid.uuid4().hex
    assert (await _clock_post(api, {**_at(site, 0), "request_id": rid}, headers=other_me)).status_code == 201
    assert_error(await _clock_post(api, {**_at(site, 0), "request_id": rid}, headers=me), 409, "REQUEST_ID_TAKEN")
    # A worker-role account with no registry record behind it.
    pair = await mp_login(api)
    user = (await api.get("/mp/v1/me", headers=bearer(pair))).json()
    await User.update({User.role: "worker"}).where(User.id == user["id"])
    unbound = bearer((await api.post("/mp/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json())
    assert_error(await _clock_post(api, _at(site, 0), headers=unbound), 403, "NOT_A_WORKER")


async def test_own_selfie_is_bound_to_the_clock_once(api, admin):
    site = await _site(api, admin)
    w = await _worker(api, admin, site["labour"])
    me = await _linked(api, w)
    await _on_roster(api, admin, site, w)
    up = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", jpeg_with_gps(), "image/jpeg")},
                        headers=me)
    assert up.status_code == 201, up.text
    selfie = up.json()["id"]
    first = await _clock_post(api, {**_at(site, 0), "selfie_media_id": selfie}, headers=me)
    assert first.status_code == 201 and first.json()["selfie_media_id"] == selfie, first.text
    bound = await Media.select(Media.attached_type, Media.attached_id).where(Media.id == selfie).first()
    assert bound == {"attached_type": "clock", "attached_id": first.json()["id"]}
    # The same selfie cannot prove a second clock; nothing is stored for the refused one.
    assert_error(await _clock_post(api, {**_at(site, 0), "kind": "out", "selfie_media_id": selfie},
                                headers=me), 409, "MEDIA_ALREADY_USED")
    assert [c["kind"] for c in (await api.get("/mp/v1/workforce/clocks", headers=me)).json()] == ["in"]
