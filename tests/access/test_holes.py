"""The holes of issue #17, each asserted through the HTTP API on the real services (each failed before its fix)."""

from __future__ import annotations

import uuid

import pytest

from tests.access.world import enterprise_user
from tests.materials.helpers import new_batch, report, to_sampled
from tests.materials.helpers import world as materials_world
from tests.support.api import STAFF_PASSWORD, from_address, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

GOOD_REBAR = {"report_date": "2026-11-01", "rebar": [{"yield_strength": 450, "tensile_strength": 600,
                                                      "max_force_elongation": 12.0}]}


async def test_only_the_lab_of_the_sampling_files_a_report_and_only_after_sampling(api, admin):
    w = await materials_world(api, admin)
    other_lab = (await api.post("/api/v1/enterprises", json={
        "name": f"别家检测{uuid.uuid4().hex[:4]}", "uscc": __import__("tests.support.api", fromlist=["x"]).new_uscc(),
        "kinds": ["testing_lab"]}, headers=admin)).json()
    other_lab_user = (await enterprise_user(api, admin, "supervisor", other_lab["id"]))["headers"]
    batch = (await new_batch(api, w))["id"]
    assert_error(await report(api, w, batch, GOOD_REBAR), 403, "NOT_SAMPLED_YET")
    await to_sampled(api, w, batch)  # sampled and sent to the demo lab
    timeline = (await api.get(f"/api/v1/materials/batches/{batch}/timeline", headers=w["insp"])).json()
    assert_error(await report(api, w, batch, GOOD_REBAR, headers=other_lab_user), 403, "NOT_SAMPLING_LAB")
    assert_error(await report(api, w, batch, GOOD_REBAR, headers=w["lead"]), 403, "FORBIDDEN_ROLE")
    # the refused reports left no trace on the batch
    assert (await api.get(f"/api/v1/materials/batches/{batch}/timeline", headers=w["insp"])).json() == timeline
    ok = await report(api, w, batch, GOOD_REBAR)
    assert ok.status_code == 201, ok.text
    after = (await api.get(f"/api/v1/materials/batches/{batch}/timeline", headers=w["insp"])).json()
    assert after[:len(timeline)] == timeline and "report_pass" in [e["kind"] for e in after[len(timeline):]]


async def _user(api, headers, **body):
    resp = await api.post("/api/v1/users", json={"display_name": "测试", "username": f"u_{uuid.uuid4().hex[:8]}",
                                                 "password": STAFF_PASSWORD, **body}, headers=headers)
    return resp


async def test_district_admin_manages_only_its_district_staff(api, admin):
    lc_admin = await staff_token(api, "lc_admin")  # 鹿城区 330302
    gc = (await api.get("/api/v1/enterprises", params={"q": "91330303MA2CD3E4FR"}, headers=admin)).json()["items"][0]["id"]
    lead = (await _user(api, admin, role="project_lead", enterprise_id=gc)).json()
    own = await _user(api, lc_admin, role="inspector", district_adcode=330302)
    assert own.status_code == 201, own.text
    other = (await _user(api, admin, role="inspector", district_adcode=330303)).json()
    for target in (lead, other):
        assert_error(await api.patch(f"/api/v1/users/{target['id']}", json={"password": "Taken-over-2026"},
                                     headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
        assert_error(await api.post(f"/api/v1/users/{target['id']}/bind-code", json={}, headers=lc_admin),
                     403, "FORBIDDEN_DISTRICT")
        assert_error(await api.get(f"/api/v1/users/{target['id']}", headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
    assert_error(await _user(api, lc_admin, role="project_lead", enterprise_id=gc), 403, "FORBIDDEN_DISTRICT")
    listed = (await api.get("/api/v1/users", params={"limit": 200}, headers=lc_admin)).json()
    assert {u["role"] for u in listed["items"]} <= {"inspector", "regulator_admin"}
    assert all(u["district_adcode"] == 330302 for u in listed["items"])
    assert (await api.patch(f"/api/v1/users/{own.json()['id']}", json={"phone": "13800000000"},
                            headers=lc_admin)).status_code == 200


async def test_disable_and_password_reset_end_sessions_at_once(api, admin):
    made = (await _user(api, admin, role="inspector", district_adcode=330302)).json()
    token = await staff_token(api, made["username"])
    assert (await api.get("/api/v1/me", headers=token)).status_code == 200
    assert (await api.patch(f"/api/v1/users/{made['id']}", json={"password": "Reset-pass-2026x"}, headers=admin)).status_code == 200
    assert_error(await api.get("/api/v1/me", headers=token), 401, "TOKEN_REVOKED")
    fresh = await staff_token(api, made["username"], "Reset-pass-2026x")
    assert (await api.get("/api/v1/complaints", headers=fresh)).status_code == 200
    assert (await api.patch(f"/api/v1/users/{made['id']}", json={"is_active": False}, headers=admin)).status_code == 200
    assert_error(await api.get("/api/v1/complaints", headers=fresh), 401, "TOKEN_REVOKED")


async def test_sign_in_limit_per_client_behind_a_trusted_proxy(api):
    from dataclasses import replace

    settings = api.app.state.settings
    api.app.state.settings = replace(settings, TRUSTED_PROXIES=("10.99.0.0/16",))
    try:
        name, n = f"nobody_{uuid.uuid4().hex[:6]}", uuid.uuid4().int
        client, neighbour = f"203.0.{n % 200}.{n % 250 + 1}", f"198.51.{n % 200}.{n % 250 + 1}"
        async with from_address(api, "10.99.0.1") as proxy:
            for i in range(101):  # 100 attempts per client address per 15 minutes
                resp = await proxy.post("/api/v1/auth/login", json={"username": f"{name}{i}", "password": "x" * 12},
                                        headers={"X-Forwarded-For": client})
            assert_error(resp, 429, "RATE_LIMITED")  # that one client is limited …
            other = await proxy.post("/api/v1/auth/login", json={"username": f"{name}x", "password": "x" * 12},
                                     headers={"X-Forwarded-For": neighbour})
            assert_error(other, 401, "BAD_CREDENTIALS")  # … another client behind the same proxy is not
    finally:
        api.app.state.settings = settings


@pytest.mark.parametrize("url", ["http://10.0.0.5/snap.jpg", "http://169.254.169.254/latest/meta-data",
                                 "http://[::ffff:192.168.1.1]/x", "http://[fe80::1]/x", "http://0.0.0.0/x"])
async def test_outbound_urls_refuse_the_inside_of_the_network(api, admin, url):
    w = await materials_world(api, admin)
    body = {"project_id": w["project"]["id"], "name": f"摄像头{uuid.uuid4().hex[:4]}", "source": "http_snapshot", "url": url}
    resp = await api.post("/api/v1/cameras", json=body, headers=w["lead"])
    assert_error(resp, 400, "OUTBOUND_URL_REFUSED")
    assert url.split("/")[2] not in resp.text  # the answer does not echo where it tried to go
    assert_error(await api.post("/api/v1/webhooks", json={"name": "x", "department": "y", "url": url,
                                                          "templates": ["material_failed"]}, headers=admin),
                 400, "OUTBOUND_URL_REFUSED")


async def test_camera_credentials_are_never_returned(api, admin):
    w = await materials_world(api, admin)
    made = await api.post("/api/v1/cameras", json={"project_id": w["project"]["id"], "name": f"塔吊{uuid.uuid4().hex[:4]}",
                                                   "source": "http_snapshot", "url": "http://cam:s3cret-pw@127.0.0.1:9/x.jpg",
                                                   "interval_s": 3600}, headers=w["lead"])
    assert made.status_code == 201, made.text
    assert "s3cret-pw" not in made.text
    got = await api.get(f"/api/v1/cameras/{made.json()['id']}", headers=w["sup"])
    assert got.status_code == 200 and "s3cret-pw" not in got.text and got.json()["url"] == "http://127.0.0.1:9/x.jpg"
    # At rest: the URL without them, the credentials encrypted; only the fetcher gets them back.
    from backend.cameras.service import fetch_url
    from backend.cameras.tables import Camera
    from backend.settings import get_settings

    row = await Camera.select().where(Camera.id == made.json()["id"]).first()
    assert "s3cret-pw" not in row["url"] and "s3cret-pw" not in row["url_credentials"] and row["url_credentials"]
    assert fetch_url(get_settings(), row) == "http://cam:s3cret-pw@127.0.0.1:9/x.jpg"
    with pytest.raises(ValueError):  # checked again at fetch time: a name may later resolve inside the network
        fetch_url(get_settings(), {**row, "url": "http://169.254.169.254/latest"})


async def test_piccolo_admin_is_for_city_admins_and_changes_are_validated_and_audited(api, admin):
    from tests.support.api import ADMIN_PASSWORD, new_uscc

    async def login(username, password):
        page = await api.get("/admin/")
        csrf = api.cookies.get("csrftoken") or page.cookies.get("csrftoken") or ""
        return await api.post("/admin/public/login/", json={"username": username, "password": password},
                              headers={"X-CSRFToken": csrf})

    made = (await api.post("/api/v1/enterprises", json={"name": f"后台测试{uuid.uuid4().hex[:4]}", "uscc": new_uscc(),
                                                        "kinds": ["general_contractor"]}, headers=admin)).json()
    api.cookies.clear()
    try:
        refused = await login("lc_admin", STAFF_PASSWORD)  # a district admin
        assert refused.status_code in (401, 403), refused.text
        assert (await api.get("/admin/api/tables/")).status_code in (401, 403)
        ok = await login("admin", ADMIN_PASSWORD)
        assert ok.status_code in (200, 303), ok.text
        csrf = {"X-CSRFToken": api.cookies.get("csrftoken") or ""}
        url = f"/admin/api/tables/enterprises/{made['id']}/"
        bad = await api.patch(url, json={"uscc": "91330302MA2NP3Q4R0"}, headers=csrf)  # wrong check character
        assert bad.status_code == 400, bad.text
        good = await api.patch(url, json={"name": "后台改名测试有限公司"}, headers=csrf)
        assert good.status_code == 200, good.text
    finally:
        api.cookies.clear()
    row = (await api.get(f"/api/v1/enterprises/{made['id']}", headers=admin)).json()
    assert row["uscc"] == made["uscc"] and row["name"] == "后台改名测试有限公司"
    audit = (await api.get("/api/v1/credit/audit", params={"action": "admin.patch.enterprises"}, headers=admin)).json()
    assert any(a["detail"].get("row") == made["id"] and a["actor_name"] == "admin" for a in audit), audit


async def test_webhooks_receive_only_their_kinds_and_scope(api, admin):
    w = await materials_world(api, admin)
    district = w["project"]["district_adcode"]
    other = 330303 if district != 330303 else 330302
    hooks = {}
    for name, districts in (("ours", [district]), ("theirs", [other]), ("city", [])):
        resp = await api.post("/api/v1/webhooks", json={"name": name, "department": "测试", "url": "http://127.0.0.1:9/h",
                                                        "templates": ["material_failed"], "districts": districts},
                              headers=admin)
        assert resp.status_code == 201, resp.text
        hooks[name] = resp.json()["webhook"]["id"]
    assert_error(await api.post("/api/v1/webhooks", json={"name": "all", "department": "测试", "url": "http://127.0.0.1:9/h"},
                                headers=admin), 400, "VALIDATION_ERROR")  # "every event" is not a subscription
    batch = (await new_batch(api, w, material="cement", grade="P·O 42.5", spec="袋装"))["id"]
    await to_sampled(api, w, batch)
    failed = await report(api, w, batch, {"report_date": "2024-05-31", "cement": {
        "compressive_3d": 12.0, "compressive_28d": 38.5, "flexural_3d": 5, "flexural_28d": 8, "initial_setting_min": 120,
        "final_setting_min": 240, "chloride_pct": 0.02, "soundness_ok": True}})
    assert failed.status_code == 201 and failed.json()["verdict"] == "fail", failed.text
    counts = {name: len((await api.get(f"/api/v1/webhooks/{hid}/deliveries", headers=admin)).json())
              for name, hid in hooks.items()}
    assert counts == {"ours": 1, "theirs": 0, "city": 1}, counts
    for hid in hooks.values():
        await api.post(f"/api/v1/webhooks/{hid}/deactivate", headers=admin)


async def test_a_lead_switching_off_its_camera_tells_the_station(api, admin):
    w = await materials_world(api, admin)
    name = f"基坑摄像头{uuid.uuid4().hex[:4]}"
    made = await api.post("/api/v1/cameras", json={"project_id": w["project"]["id"], "name": name, "source": "upload"},
                          headers=w["lead"])
    assert made.status_code == 201, made.text
    inspector = await staff_token(api, "lc_inspector")

    async def told() -> int:
        inbox = (await api.get("/mp/v1/inbox", params={"limit": 50}, headers=inspector)).json()
        return sum(name in (item.get("body") or "") for item in inbox["items"])

    before = await told()
    off = await api.patch(f"/api/v1/cameras/{made.json()['id']}", json={"enabled": False}, headers=w["lead"])
    assert off.status_code == 200 and off.json()["enabled"] is False, off.text
    assert await told() == before + 1
