"""Clock-in integrity through the HTTP API on the real services (issue 19 build 3): serialized per worker,
selfies required and checked for reuse, the coordinate label cannot move the fence, flagged clocks reviewed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import cv2
import pytest

from backend.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from backend.geo.distance import haversine_m
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error
from tests.support.images import encode, scene
from tests.workforce.test_attendance import D, _clock_post, _linked, _on_roster, _selfie, _site, _worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _body(site, minutes_ago: float = 0.0, **kw) -> dict:
    return {"kind": "in", "project_id": site["project"], "lng": site["lng"], "lat": site["lat"], "coord_type": "gcj02",
            "accuracy_m": 10, "at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(), **kw}


async def _upload(api, headers, data: bytes) -> str:
    up = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", data, "image/jpeg")},
                        headers=headers)
    assert up.status_code == 201, up.text
    return up.json()["id"]


async def _ready_worker(api, admin, site) -> dict[str, str]:
    w = await _worker(api, admin, site["labour"])
    me = await _linked(api, w)
    await _on_roster(api, admin, site, w)
    return me


async def test_concurrent_clock_ins_of_one_worker_are_serialized(api, admin):
    """建市〔2019〕18号 attendance is one record per clocking: 8 clock-ins sent at once, each with its own request_id
    and selfie and a time within the 5-minute window, leave exactly one clock."""
    site = await _site(api, admin)
    me = await _ready_worker(api, admin, site)
    selfies = [await _selfie(api, me) for _ in range(8)]
    bodies = [{**_body(site, minutes_ago=i * 0.5), "request_id": uuid.uuid4().hex, "selfie_media_id": s}
              for i, s in enumerate(selfies)]
    answers = await asyncio.gather(*[_clock_post(api, b, me) for b in bodies])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [400] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 400} == {"DUPLICATE_CLOCK"}
    assert len((await api.get("/mp/v1/workforce/clocks", headers=me)).json()) == 1
    # Another worker at the same moment is not held up by the first one's lock.
    other = await _ready_worker(api, admin, site)
    assert (await _clock_post(api, _body(site), other)).status_code == 201


async def test_a_selfie_reused_across_workers_is_flagged(api, admin):
    """Issue 19: one JPEG was accepted as the selfie of 5 workers. The same bytes (sha256) or a re-encoded,
    rescaled copy (dHash within 6 of 64 bits) proving another worker's clock is flagged for review."""
    site = await _site(api, admin)
    picture = scene(4242)
    original = encode(picture, ".jpg")
    first = await _ready_worker(api, admin, site)
    one = await _clock_post(api, _body(site, selfie_media_id=await _upload(api, first, original)), first)
    assert one.status_code == 201 and one.json()["flags"] == [] and one.json()["review_status"] == "none", one.text
    same = await _ready_worker(api, admin, site)
    two = await _clock_post(api, _body(site, selfie_media_id=await _upload(api, same, original)), same)
    assert two.status_code == 201 and two.json()["flags"] == ["selfie_reused"] and two.json()["review_status"] == "pending"
    near = await _ready_worker(api, admin, site)
    copy = encode(cv2.resize(picture, (360, 480), interpolation=cv2.INTER_AREA), ".jpg")  # other bytes, same picture
    three = await _clock_post(api, _body(site, selfie_media_id=await _upload(api, near, copy)), near)
    assert three.json()["flags"] == ["selfie_reused"]
    fresh = await _ready_worker(api, admin, site)
    four = await _clock_post(api, _body(site, selfie_media_id=await _upload(api, fresh, encode(scene(777), ".jpg"))), fresh)
    assert four.json()["flags"] == []
    # A clock needs a selfie at all; a picture that is not an image never becomes one.
    assert_error(await api.post("/mp/v1/workforce/clocks", json=_body(site), headers=fresh), 400, "SELFIE_REQUIRED")
    bad = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", b"not a picture", "image/jpeg")},
                         headers=fresh)
    assert_error(bad, 400, "IMAGE_REJECTED")


async def test_the_coordinate_label_cannot_move_the_fence(api, admin):
    """Issue 19: someone 545 m away passed by labelling a true WGS-84 reading gcj02; an honest worker inside was
    refused when a GCJ-02 reading was labelled wgs84. Now the reading is judged under both labels: when the label
    alone decides, the clock is let in only for review (coord_mismatch / coord_unverified), never paid unreviewed."""
    site = await _site(api, admin)
    # The cheat stands where the site's GCJ-02 coordinates are read as WGS-84: really ~500 m off, outside.
    cheat_true = wgs84_to_gcj02(site["lng"], site["lat"])
    assert haversine_m(site["lng"], site["lat"], *cheat_true) > 300
    cheat = await _ready_worker(api, admin, site)
    label_only = {**_body(site), "coord_type": "gcj02"}  # the WGS-84 numbers sent as if GCJ-02
    alone = await _clock_post(api, label_only, cheat, pair=False)
    assert alone.status_code == 201 and alone.json()["review_status"] == "pending"
    assert "coord_unverified" in alone.json()["flags"]
    cheat2 = await _ready_worker(api, admin, site)  # also sends the phone's GCJ-02 reading, mislabelled as WGS-84
    paired = await _clock_post(api, {**label_only, "alt_lng": cheat_true[0], "alt_lat": cheat_true[1]}, cheat2, pair=False)
    assert paired.json()["review_status"] == "pending" and "coord_mismatch" in paired.json()["flags"]
    # The honest worker 20 m inside, GCJ-02 reading labelled wgs84 by a buggy client: let in for review, not refused.
    honest = await _ready_worker(api, admin, site)
    inside = (site["lng"] + D - 0.0002, site["lat"])
    wrong = await _clock_post(api, {**_body(site), "lng": inside[0], "lat": inside[1], "coord_type": "wgs84"}, honest, pair=False)
    assert wrong.status_code == 201 and wrong.json()["flags"] == ["coord_unverified"], wrong.text
    # A correct pair confirms the label: nothing to review; and the API says what system its lng/lat are in.
    good = await _ready_worker(api, admin, site)
    wgs = gcj02_to_wgs84(*inside)
    ok = await _clock_post(api, {**_body(site), "lng": wgs[0], "lat": wgs[1], "coord_type": "wgs84"}, good)
    assert ok.json()["flags"] == [] and ok.json()["coord_type"] == "gcj02" and ok.json()["declared_coord_type"] == "wgs84"
    assert abs(ok.json()["lng"] - inside[0]) < 1e-5
    # Outside under both labels is refused as before.
    far = await _ready_worker(api, admin, site)
    assert_error(await _clock_post(api, {**_body(site), "lng": site["lng"] + 0.03}, far), 400, "OUTSIDE_FENCE")
    # One device that changes its declared type is flagged.
    dev = await _ready_worker(api, admin, site)
    assert (await _clock_post(api, {**_body(site), "device_id": "phone-1"}, dev)).json()["flags"] == []
    again = await _clock_post(api, {**_body(site), "kind": "out", "lng": wgs[0], "lat": wgs[1], "coord_type": "wgs84",
                                    "device_id": "phone-1"}, dev)
    assert again.json()["flags"] == ["coord_type_changed"]


async def test_flagged_clocks_are_reviewed_by_the_employer_or_the_gc(api, admin):
    """Flagged clocks (offline, outside tolerance, before the roster entry, reused selfie, coordinates) wait for
    the employer or the general contractor: accept or reject, with a reason; staff may read, not decide."""
    site = await _site(api, admin)
    me = await _ready_worker(api, admin, site)
    late = await _clock_post(api, _body(site, minutes_ago=90), me, pair=False)  # offline, before entry, coord_unverified
    assert late.status_code == 201 and late.json()["review_status"] == "pending"
    clock_id = late.json()["id"]
    lead = await staff_token(api, "lead_wang")  # the general contractor's lead
    insp = await staff_token(api, "lc_inspector")
    listed = (await api.get("/api/v1/attendance/flagged", params={"project_id": site["project"]}, headers=insp)).json()
    assert [c["id"] for c in listed] == [clock_id] and set(listed[0]["flags"]) >= {"offline", "before_entry"}
    review = f"/api/v1/attendance/{clock_id}/review"
    assert_error(await api.post(review, json={"accept": True, "reason": "核实在场"}, headers=insp), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(review, json={"accept": True, "reason": "核实在场"}, headers=bearer(await mp_login(api))),
                 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(review, json={"accept": True, "reason": " "}, headers=lead), 400, "REVIEW_REASON_REQUIRED")
    done = await api.post(review, json={"accept": True, "reason": "网络中断，班组长核实当日在场"}, headers=lead)
    assert done.status_code == 200 and done.json()["review_status"] == "accepted"
    assert done.json()["review_reason"] == "网络中断，班组长核实当日在场"
    assert_error(await api.post(review, json={"accept": False, "reason": "改判"}, headers=lead), 409, "CLOCK_NOT_FLAGGED")
    accepted = (await api.get("/api/v1/attendance/flagged", params={"project_id": site["project"], "status": "accepted"},
                              headers=lead)).json()
    assert [c["id"] for c in accepted] == [clock_id]
    assert (await api.get("/api/v1/attendance/flagged", params={"project_id": site["project"]}, headers=lead)).json() == []
    assert_error(await api.post(f"/api/v1/attendance/{uuid.uuid4()}/review", json={"accept": True, "reason": "x1"},
                                headers=lead), 404, "CLOCK_NOT_FOUND")
    assert_error(await api.get("/api/v1/attendance/flagged", params={"project_id": site["project"]},
                               headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
