"""Notice and consent (issue 23, part 3) through the mini-program API: versioned notices, acceptances recorded,
required before the first report and the first clock-in, separate notices for precise location and the face."""

from __future__ import annotations

import uuid

import pytest

from backend.geo.coords import gcj02_to_wgs84
from backend.privacy.notice import current
from tests.complaints.helpers import inside, photo
from tests.support.api import accept_notices, bearer, mp_login
from tests.support.asserts import assert_error
from tests.workforce.test_attendance import LABOUR, _at, _clock_post, _ent, _site, _worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _report(api, admin, pair):
    lng, lat = gcj02_to_wgs84(*await inside(api, admin, 330302))
    return await api.post("/mp/v1/complaints", headers=bearer(pair), json={
        "category": "shoddy_work", "description": f"外墙保温层脱落 {uuid.uuid4().hex[:6]}",
        "location": {"lng": lng, "lat": lat, "coord_type": "wgs84"}, "photo_ids": [await photo(api, pair)]})


def _missing(resp) -> list[str]:
    body = assert_error(resp, 403, "PRIVACY_CONSENT_REQUIRED")
    return [m["item"] for m in body["detail"]["missing"]]


async def test_notice_then_report(api, admin):
    pair = await mp_login(api, accept_privacy=False)
    notices = await api.get("/mp/v1/privacy/notices", headers=bearer(pair))
    assert notices.status_code == 200, notices.text
    body = notices.json()
    assert {n["item"]: n["sensitive"] for n in body["notices"]} == {"general": False, "location": True, "face": True}
    assert all(n["accepted_version"] is None and not n["current"] and "个人信息" in n["text"] + n["title"]
               for n in body["notices"])
    assert body["required"] == {"complaint": ["general", "location"], "clock": ["general", "location", "face"]}
    # No report before the notice and the precise-location notice are accepted.
    assert _missing(await _report(api, admin, pair)) == ["general", "location"]
    general = current("general")
    assert_error(await api.post("/mp/v1/privacy/consents", json={"item": "general", "version": "2000-01-01"},
                                headers=bearer(pair)), 409, "PRIVACY_NOTICE_STALE")
    assert_error(await api.post("/mp/v1/privacy/consents", json={"item": "marketing", "version": general.version},
                                headers=bearer(pair)), 400, "PRIVACY_NOTICE_UNKNOWN")
    first = await api.post("/mp/v1/privacy/consents", json={"item": "general", "version": general.version},
                           headers=bearer(pair))
    assert first.status_code == 201 and first.json()["version"] == general.version, first.text
    again = await api.post("/mp/v1/privacy/consents", json={"item": "general", "version": general.version},
                           headers=bearer(pair))
    assert again.json()["accepted_at"] == first.json()["accepted_at"]  # accepting twice keeps the first time
    assert _missing(await _report(api, admin, pair)) == ["location"]
    await accept_notices(api, pair, ["location"])
    made = await _report(api, admin, pair)
    assert made.status_code == 201, made.text
    mine = {n["item"]: n for n in (await api.get("/mp/v1/privacy/notices", headers=bearer(pair))).json()["notices"]}
    assert mine["general"]["current"] and mine["location"]["current"] and not mine["face"]["current"]
    assert mine["general"]["accepted_at"] == first.json()["accepted_at"]
    # Withdrawing is as easy as giving (PIPL 第15条): the next report asks again.
    assert (await api.post("/mp/v1/privacy/consents/location/withdraw", headers=bearer(pair))).status_code == 204
    assert _missing(await _report(api, admin, pair)) == ["location"]
    assert_error(await api.post("/mp/v1/privacy/consents/face2/withdraw", headers=bearer(pair)), 400,
                 "PRIVACY_NOTICE_UNKNOWN")
    await accept_notices(api, pair, ["location"])
    assert (await _report(api, admin, pair)).status_code == 201


async def test_clock_in_needs_the_face_notice(api, admin):
    site = await _site(api, admin)
    worker = await _worker(api, admin, await _ent(api, admin, LABOUR))
    assert (await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": worker["id"],
                                                  "enterprise_id": site["labour"]}, headers=admin)).status_code == 201
    pair = await mp_login(api, accept_privacy=False)
    linked = await api.post("/mp/v1/workforce/link", json={"id_number": worker["id_number"], "name": "赵六",
                                                          "bind_code": worker["bind_code"]}, headers=bearer(pair))
    assert linked.status_code == 200, linked.text
    me = bearer(linked.json())
    assert _missing(await _clock_post(api, _at(site, 1), headers=me)) == ["general", "location", "face"]
    await accept_notices(api, {"access_token": linked.json()["access_token"]}, ["general", "location"])
    assert _missing(await _clock_post(api, _at(site, 1), headers=me)) == ["face"]
    await accept_notices(api, {"access_token": linked.json()["access_token"]}, ["face"])
    ok = await _clock_post(api, _at(site, 1), headers=me)
    assert ok.status_code == 201, ok.text


async def test_notices_need_a_signed_in_user(api):
    assert (await api.get("/mp/v1/privacy/notices")).status_code == 401
