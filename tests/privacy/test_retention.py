"""Retention that runs (issue 23, part 2): the data map's rules applied with a moved clock (an injected `now`).

The run is judged against the whole database, so this module moves the clock years ahead for every record: it is
marked ``moves_clock`` and tests/conftest.py runs such tests after all others.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.clients.s3 import S3Client
from backend.media.service import BUCKET
from backend.media.tables import Media
from backend.privacy import retention
from backend.privacy.datamap import FIELDS, NOT_ENFORCED, Personal
from backend.settings import get_settings
from tests.complaints.helpers import photo, report
from tests.support.api import bearer, staff_token
from tests.support.services import run_cli
from tests.workforce.test_attendance import LABOUR, _at, _clock_post, _ent, _id_number, _linked, _site

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.moves_clock]

CARD = "6222021234567890128"  # passes Luhn


async def _closed_case(api, admin) -> tuple[dict, dict]:
    pair, complaint = await report(api, admin, 330302)
    cid = complaint["id"]
    lc_admin = await staff_token(api, "lc_admin")
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=lc_admin)).status_code == 200
    result = await photo(api, {"access_token": lc_admin["Authorization"].split()[1]}, purpose="complaint_result")
    resolved = await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "已返工，复查合格", "photo_ids": [result]},
                              headers=lc_admin)
    assert resolved.status_code == 200, resolved.text
    closed = await api.post(f"/mp/v1/complaints/{cid}/confirm", headers=bearer(pair))
    assert closed.json()["status"] == "closed", closed.text
    rated = await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 4, "comment": "我家楼下，处理及时"},
                           headers=bearer(pair))
    assert rated.status_code == 200, rated.text
    return pair, rated.json()


async def _worker(api, admin, labour) -> dict:
    number = _id_number()
    resp = await api.post("/api/v1/workers", json={"name": "赵六", "id_number": number, "employer_id": labour,
                                                   "contract_signed": True, "bank_card": CARD}, headers=admin)
    assert resp.status_code == 201, resp.text
    code = await api.post(f"/api/v1/workers/{resp.json()['id']}/bind-code", headers=admin)
    return {**resp.json(), "id_number": number, "bind_code": code.json()["code"]}


async def _objects(media_ids: list[str]) -> list[tuple[str, int | None]]:
    """(key, size or None) of every S3 object of these media (rows gone: nothing to list)."""
    s3 = S3Client(get_settings())
    rows = await Media.select(Media.key, Media.thumb_key).where(Media.id.is_in(media_ids))
    return [(k, await s3.size(BUCKET, k)) for r in rows for k in (r["key"], r["thumb_key"]) if k]


async def test_retention_with_a_moved_clock(api, admin):
    settings = get_settings()
    s3 = S3Client(settings)
    t0 = datetime.now(UTC)
    # A closed case (with its citizen's photo, comment and exact point) and an open one.
    citizen, closed = await _closed_case(api, admin)
    other, still_open = await report(api, admin, 330302)
    staff_before = (await api.get(f"/api/v1/complaints/{closed['id']}", headers=admin)).json()
    case_photos = [p["id"] for p in closed["photos"]]
    case_keys = [(await Media.select(Media.key).where(Media.id == pid).first())["key"] for pid in case_photos]
    assert all([await s3.size(BUCKET, k) for k in case_keys])
    # Two workers with bank cards on a site: one clocks in and leaves the roster, the other stays.
    site = await _site(api, admin)
    labour = await _ent(api, admin, LABOUR)
    gone, staying = await _worker(api, admin, labour), await _worker(api, admin, labour)
    stints = {}
    for w in (gone, staying):
        resp = await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": w["id"],
                                                     "enterprise_id": labour}, headers=admin)
        assert resp.status_code == 201, resp.text
        stints[w["id"]] = resp.json()["id"]
    me = await _linked(api, gone)
    clock = await _clock_post(api, _at(site, 5), headers=me)
    assert clock.status_code == 201, clock.text
    selfie = clock.json()["selfie_media_id"]
    selfie_objects = await _objects([selfie])
    assert len(selfie_objects) == 2 and all(size for _, size in selfie_objects)
    assert (await api.post(f"/api/v1/roster/{stints[gone['id']]}/exit", headers=admin)).status_code == 200
    day = t0.astimezone(settings.zone()).date().isoformat()

    async def clocks_today() -> list[dict]:
        resp = await api.get("/api/v1/attendance", params={"project_id": site["project"], "day": day}, headers=admin)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def card(worker) -> str:
        return (await api.get(f"/api/v1/workers/{worker['id']}/pii", headers=admin)).json()["bank_card"]

    years_on = t0 + timedelta(days=3 * 366 + 2)

    # A dry run years ahead counts everything and changes nothing.
    dry = await retention.run(settings, s3, now=years_on, dry_run=True)
    assert dry["dry_run"] and all(dry["counts"][rule] >= 1 for rule in retention.RULES), dry
    assert dry["counts"]["s3_objects"] >= 2 * (len(case_photos) + 1)
    assert (await api.get(f"/mp/v1/complaints/{closed['id']}", headers=bearer(citizen))).status_code == 200
    assert await _objects([selfie]) == selfie_objects and await card(gone) == CARD

    # 89 days on: the selfie is still within its 90 days.
    await retention.run(settings, s3, now=t0 + timedelta(days=89))
    assert await _objects([selfie]) == selfie_objects

    # 91 days on: the selfie (both S3 objects and the media row) is gone; the clock stays, without it.
    real = await retention.run(settings, s3, now=t0 + timedelta(days=91))
    assert real["counts"]["selfies"] >= 1 and real["counts"]["case"] == 0 and real["counts"]["clocks"] == 0
    assert await _objects([selfie]) == [] and all([await s3.size(BUCKET, k) is None for k, _ in selfie_objects])
    mine = [c for c in await clocks_today() if c["id"] == clock.json()["id"]]
    assert len(mine) == 1 and mine[0]["selfie_media_id"] is None
    assert (await api.get(f"/mp/v1/complaints/{closed['id']}", headers=bearer(citizen))).status_code == 200
    assert await card(gone) == CARD

    # Years on: the closed case loses its reporter, comment, address and exact point; its photo goes from S3;
    # the open case is untouched; the clock is deleted; the card of the worker gone from every roster is cleared.
    real = await retention.run(settings, s3, now=years_on)
    assert all(real["counts"][rule] >= 1 for rule in ("case", "case_photos", "clocks", "bank_cards")), real
    assert (await api.get(f"/mp/v1/complaints/{closed['id']}", headers=bearer(citizen))).status_code in (403, 404)
    staff_after = (await api.get(f"/api/v1/complaints/{closed['id']}", headers=admin)).json()
    assert staff_after["number"] == staff_before["number"] and staff_after["status"] == "closed"
    assert staff_after["photos"] == [] and staff_after["satisfaction_comment"] == ""
    assert staff_after["address"] == "" and staff_before["satisfaction_comment"] == "我家楼下，处理及时"
    (lng, lat), (lng0, lat0) = staff_after["location"], staff_before["location"]
    assert (lng, lat) != (lng0, lat0) and abs(lng - lng0) <= 0.0051 and abs(lat - lat0) <= 0.0051
    assert (round(lng, 2), round(lat, 2)) == (lng, lat)  # 0.01°: the district, not the home
    assert all([await s3.size(BUCKET, k) is None for k in case_keys])
    still = await api.get(f"/mp/v1/complaints/{still_open['id']}", headers=bearer(other))
    assert still.status_code == 200 and still.json()["location"] == still_open["location"]
    assert [c for c in await clocks_today() if c["id"] == clock.json()["id"]] == []
    assert await card(gone) == "" and await card(staying) == CARD

    # A second run at the same moment finds nothing more; every run is logged with its counts.
    again = await retention.run(settings, s3, now=years_on)
    assert set(again["counts"].values()) == {0}, again
    logged = {r["id"]: r for r in await retention.runs(10)}
    assert logged[again["id"]]["counts"] == again["counts"] and logged[dry["id"]]["dry_run"] is True

    # The operator's command (the daily cron runs the same function).
    out = run_cli("retention", "--dry-run").stdout
    assert "would change" in out and "case=0" in out


async def test_data_map_says_what_the_job_enforces():
    """Every retention the job applies is marked enforced; no personal field still says "not yet" without a reason."""
    enforced = {k for k, v in FIELDS.items() if isinstance(v, Personal) and v.enforced != NOT_ENFORCED}
    for key in ("complaints.contact", "complaints.lng", "complaints.lat", "complaints.address",
                "complaints.satisfaction_comment", "worker_clocks.selfie_media_id", "worker_clocks.lng",
                "workers.bank_card_enc"):
        assert key in enforced, key
