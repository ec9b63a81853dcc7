"""Retention that runs (issue 23, part 2): the data map's rules applied with a moved clock (an injected `now`).

The run is judged against the whole database, so this module moves the clock years ahead for every record: it is
marked ``moves_clock`` and tests/conftest.py runs such tests after all others.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.accounts.tables import User
from backend.clients.s3 import S3Client
from backend.credit.admin import staff_login
from backend.credit.tables import ConsoleUser
from backend.lifecycle.tables import KeyPerson, StageEvent
from backend.materials.tables import MaterialAlert, MaterialScan
from backend.media.service import BUCKET
from backend.media.tables import Media
from backend.notifications.tables import Notification, WechatBinding
from backend.privacy import retention
from backend.privacy.datamap import FIELDS, NOT_ENFORCED, Personal
from backend.privacy.tables import PrivacyRequest
from backend.projects.tables import Project
from backend.settings import get_settings
from tests.complaints.helpers import photo, report
from tests.support.api import ADMIN_PASSWORD, bearer, staff_token
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


async def _worker(api, admin, labour, face: str | None = None) -> dict:
    number = _id_number()
    resp = await api.post("/api/v1/workers", json={"name": "赵六", "id_number": number, "employer_id": labour,
                                                   "contract_signed": True, "bank_card": CARD, "phone": "13912345678",
                                                   "face_photo_id": face}, headers=admin)
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
    face = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="face")
    gone, staying = await _worker(api, admin, labour, face), await _worker(api, admin, labour)
    face_objects = await _objects([face])
    assert len(face_objects) == 2 and all(size for _, size in face_objects)
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

    async def worker_now(worker) -> tuple[dict, dict]:
        out = await api.get(f"/api/v1/workers/{worker['id']}", headers=admin)
        pii = await api.get(f"/api/v1/workers/{worker['id']}/pii", headers=admin)
        assert out.status_code == 200 and pii.status_code == 200, out.text + pii.text
        return out.json(), pii.json()

    # A label scan with its point, and the alert it raised (which copies the point).
    scan_id = uuid.uuid4()
    await MaterialScan.insert(MaterialScan(id=scan_id, outcome="wrong_site", lng=120.65, lat=28.01, at=t0))
    await MaterialAlert.insert(MaterialAlert(id=uuid.uuid4(), kind="diversion", scan=scan_id, at=t0,
                                             detail={"lng": 120.65, "lat": 28.01, "scan_district": 330302}))

    async def scan_point() -> tuple:
        row = await MaterialScan.select(MaterialScan.lng, MaterialScan.lat).where(MaterialScan.id == scan_id).first()
        alert = await MaterialAlert.select(MaterialAlert.detail).where(MaterialAlert.scan == scan_id).output(
            load_json=True).first()
        return row["lng"], row["lat"], alert["detail"].get("lng"), alert["detail"].get("lat")

    # The citizen asks for a correction; the city answers it (the answer lands in the citizen's inbox).
    asked = await api.post("/mp/v1/privacy/requests", headers=bearer(citizen),
                           json={"field": "display_name", "requested_change": "昵称请改为 老陈"})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    answered = await api.post(f"/api/v1/privacy/requests/{request_id}/answer", headers=admin,
                              json={"decision": "done", "answer": "已核实并更正昵称"})
    assert answered.status_code == 200, answered.text

    async def told() -> dict:
        return await Notification.select(Notification.body, Notification.data, Notification.title).where(
            Notification.dedup_key == f"privacy:{request_id}:answered").output(load_json=True).first()

    async def request_kept() -> bool:
        return await PrivacyRequest.exists().where(PrivacyRequest.id == request_id)

    assert (await told())["body"] and await request_kept()

    # A city admin, with the admin-console mirror of the account and a refused openid, is disabled today.
    username = f"gone_{uuid.uuid4().hex[:6]}"
    made = await api.post("/api/v1/users", headers=admin, json={
        "role": "regulator_admin", "display_name": "离任科长", "username": username, "password": ADMIN_PASSWORD,
        "phone": "13700000000"})
    assert made.status_code == 201, made.text
    staff_id = made.json()["id"]
    assert await staff_login(ConsoleUser, "admin", ADMIN_PASSWORD) is not None  # another admin's mirror first
    assert await staff_login(ConsoleUser, username, ADMIN_PASSWORD) is not None
    await WechatBinding.insert(WechatBinding(user=staff_id, openid="o-refused-" + username))
    off = await api.patch(f"/api/v1/users/{staff_id}", json={"is_active": False}, headers=admin)
    assert off.status_code == 200, off.text

    async def staff_now() -> tuple[dict, bool, bool]:
        row = await User.select(User.username, User.display_name, User.phone, User.password_hash).where(
            User.id == staff_id).first()
        return (row, await ConsoleUser.exists().where(ConsoleUser.username == username),
                await WechatBinding.exists().where(WechatBinding.user == staff_id))

    assert (await User.select(User.disabled_at).where(User.id == staff_id).first())["disabled_at"] is not None
    staff_before_run = await staff_now()
    assert staff_before_run[0]["username"] == username and staff_before_run[1] and staff_before_run[2]

    # The site's project is filed (竣工验收备案) today, with a key person on record.
    await Project.update({Project.stage: "filed"}).where(Project.id == site["project"])
    await StageEvent.insert(StageEvent(id=uuid.uuid4(), project=site["project"], action="file",
                                       from_stage="completion_accepted", to_stage="filed", at=t0))
    key_person = (await KeyPerson.insert(KeyPerson(project=site["project"], role="project_manager", name="孙八",
                                                   certificate_no="浙133202012345", expires_on=date(2031, 1, 1))
                                         ).returning(KeyPerson.id))[0]["id"]

    async def key_person_now() -> dict:
        return await KeyPerson.select(KeyPerson.name, KeyPerson.certificate_no).where(
            KeyPerson.id == key_person).first()

    years_on = t0 + timedelta(days=3 * 366 + 2)
    five_years_on = t0 + timedelta(days=5 * 366 + 2)

    async def nothing_changed_yet() -> None:
        assert await scan_point() == (120.65, 28.01, 120.65, 28.01)
        assert (await told())["body"] and await request_kept()
        assert await staff_now() == staff_before_run
        out, pii = await worker_now(gone)
        assert out["name"] == "赵六" and out["has_face_photo"] and pii["id_number"] == gone["id_number"]
        assert await _objects([face]) == face_objects
        assert await key_person_now() == {"name": "孙八", "certificate_no": "浙133202012345"}

    # A dry run years ahead counts everything and changes nothing.
    dry = await retention.run(settings, s3, now=years_on, dry_run=True)
    assert dry["dry_run"] and all(dry["counts"][rule] >= 1 for rule in retention.RULES if rule != "key_personnel"), dry
    assert dry["counts"]["s3_objects"] >= 2 * (len(case_photos) + 2)
    assert (await api.get(f"/mp/v1/complaints/{closed['id']}", headers=bearer(citizen))).status_code == 200
    assert await _objects([selfie]) == selfie_objects and await card(gone) == CARD
    await nothing_changed_yet()
    assert (await retention.run(settings, s3, now=five_years_on, dry_run=True))["counts"]["key_personnel"] >= 1
    assert await key_person_now() == {"name": "孙八", "certificate_no": "浙133202012345"}

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
    await nothing_changed_yet()

    # 364 days on: the scan point and the inbox text are still within their year.
    await retention.run(settings, s3, now=t0 + timedelta(days=364))
    await nothing_changed_yet()

    # 366 days on: the scan point (and the alert's copy) is dropped, the inbox message loses its text (not its row).
    real = await retention.run(settings, s3, now=t0 + timedelta(days=366))
    assert real["counts"]["scan_points"] >= 2 and real["counts"]["inbox"] >= 1, real
    assert await scan_point() == (None, None, None, None)
    message = await told()
    assert message["body"] == "" and message["data"] == {} and message["title"] == "个人信息请求已答复"
    assert await request_kept() and await staff_now() == staff_before_run
    assert (await worker_now(gone))[0]["name"] == "赵六"

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
    # … the case's text too; the worker gone from every roster loses his identity and face photo (S3 included),
    # the one still on a roster keeps his; the answered request is deleted; the staff account is anonymised.
    assert staff_before["description"] and staff_after["description"] == ""
    out, pii = await worker_now(gone)
    assert out["name"] == "" and out["id_number_masked"] == "" and not out["has_face_photo"], out
    assert out["birth_date"] == "1900-01-01" and out["sex"] == "" and out["phone_masked"] == ""
    assert pii == {"id": gone["id"], "id_number": "", "phone": "", "bank_card": ""}
    assert await _objects([face]) == [] and all([await s3.size(BUCKET, k) is None for k, _ in face_objects])
    out, pii = await worker_now(staying)
    assert out["name"] == "赵六" and pii["id_number"] == staying["id_number"] and pii["phone"] == "13912345678"
    assert not await request_kept()
    row, console, binding = await staff_now()
    assert row == {"username": None, "display_name": "已离职人员", "phone": "", "password_hash": None}
    assert not console and not binding
    # Key personnel stay with the filed project 5 years: kept now, cleared after.
    assert await key_person_now() == {"name": "孙八", "certificate_no": "浙133202012345"}

    # A second run at the same moment finds nothing more; every run is logged with its counts.
    again = await retention.run(settings, s3, now=years_on)
    assert set(again["counts"].values()) == {0}, again
    logged = {r["id"]: r for r in await retention.runs(10)}
    assert logged[again["id"]]["counts"] == again["counts"] and logged[dry["id"]]["dry_run"] is True

    # The operator's command (the daily cron runs the same function).
    later = await retention.run(settings, s3, now=five_years_on)
    assert later["counts"]["key_personnel"] >= 1
    assert await key_person_now() == {"name": "", "certificate_no": ""}

    out = run_cli("retention", "--dry-run").stdout
    assert "would change" in out and "case=0" in out


async def test_data_map_says_what_the_job_enforces():
    """Every retention the job applies is marked enforced, and no personal field is left unenforced."""
    enforced = {k for k, v in FIELDS.items() if isinstance(v, Personal) and v.enforced != NOT_ENFORCED}
    for key in ("complaints.contact", "complaints.lng", "complaints.lat", "complaints.address",
                "complaints.satisfaction_comment", "worker_clocks.selfie_media_id", "worker_clocks.lng",
                "workers.bank_card_enc", "complaints.description", "material_scans.lng", "workers.name",
                "workers.id_number_enc", "privacy_requests.requested_change", "notifications.body", "users.username",
                "console_users.username", "project_key_personnel.name"):
        assert key in enforced, key


async def test_no_personal_field_is_left_unenforced():
    """NOT_ENFORCED (the default of `Personal.enforced`) is used by no field, nor any "not yet" wording: a new
    personal field must say which rule (or which law, with its record) applies its retention."""
    left = sorted(k for k, v in FIELDS.items() if isinstance(v, Personal)
                  and (v.enforced == NOT_ENFORCED or "not enforced" in v.enforced.lower()
                       or "not yet" in v.enforced.lower()))
    assert left == []
    rules = {rule for rule in retention.RULES}
    named = {rule for v in FIELDS.values() if isinstance(v, Personal) for rule in rules if f"`{rule}`" in v.enforced}
    assert named == rules  # every rule of the job is named by the field(s) it applies to
