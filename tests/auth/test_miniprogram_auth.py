"""Mini-program sign-in through wechatpy against the fake WeChat server, and account binding."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def test_first_login_creates_a_citizen_and_second_finds_it(api, fake_wechat):
    openid = f"o_{uuid.uuid4().hex[:12]}"
    first = await mp_login(api, openid)
    second = await mp_login(api, openid)
    assert first["user"]["role"] == "citizen" and first["user"]["wechat_bound"] is True
    assert first["user"]["id"] == second["user"]["id"]
    assert "session_key" not in str(first)
    me = await api.get("/mp/v1/me", headers=bearer(second))
    assert me.status_code == 200 and me.json()["id"] == first["user"]["id"]
    calls = fake_wechat.requests("/sns/jscode2session")
    assert any(openid in r["query"].get("js_code", "") for r in calls)


async def test_demo_project_lead_logs_in_by_openid(api):
    pair = await mp_login(api, "demo-lead")
    assert pair["user"]["role"] == "project_lead"
    mine = await api.get("/mp/v1/projects/mine", headers=bearer(pair))
    assert mine.status_code == 200 and len(mine.json()) >= 2


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [(40029, 400, "WECHAT_CODE_INVALID"), (45011, 429, "WECHAT_RATE_LIMITED"), (40226, 403, "WECHAT_USER_BLOCKED"), (-1, 503, "WECHAT_BUSY")],
)
async def test_wechat_errors_map_to_clear_errors(api, fake_wechat, errcode, status, code):
    fake_wechat.fail_next("/sns/jscode2session", errcode)
    resp = await api.post("/mp/v1/auth/login", json={"code": f"o_{uuid.uuid4().hex[:8]}:1"})
    body = assert_error(resp, status, code)
    assert body["detail"]["errcode"] == errcode


async def test_a_code_is_single_use(api):
    code = f"o_{uuid.uuid4().hex[:8]}:1"
    assert (await api.post("/mp/v1/auth/login", json={"code": code})).status_code == 200
    assert_error(await api.post("/mp/v1/auth/login", json={"code": code}), 400, "WECHAT_CODE_INVALID")


async def test_empty_code_is_a_validation_error(api):
    assert_error(await api.post("/mp/v1/auth/login", json={"code": ""}), 400, "VALIDATION_ERROR")
    assert_error(await api.post("/mp/v1/auth/login", json={}), 400, "VALIDATION_ERROR")


async def test_bind_code_links_wechat_to_a_precreated_lead(api, admin):
    enterprises = (await api.get("/api/v1/enterprises?kind=general_contractor", headers=admin)).json()["items"]
    lead = await api.post(
        "/api/v1/users",
        json={"role": "project_lead", "display_name": "新项目经理", "enterprise_id": enterprises[0]["id"]},
        headers=admin,
    )
    assert lead.status_code == 201, lead.text
    lead_id = lead.json()["id"]
    code = (await api.post(f"/api/v1/users/{lead_id}/bind-code", headers=admin)).json()["bind_code"]

    openid = f"o_{uuid.uuid4().hex[:12]}"
    citizen = await mp_login(api, openid)  # they used the app as a citizen first
    bound = await api.post("/mp/v1/auth/bind", json={"code": f"{openid}:b1", "bind_code": code})
    assert bound.status_code == 200, bound.text
    assert bound.json()["user"]["id"] == lead_id and bound.json()["user"]["role"] == "project_lead"
    again = await mp_login(api, openid)
    assert again["user"]["id"] == lead_id
    # The old citizen login no longer refreshes; the bind code cannot be used twice.
    resp = await api.post("/mp/v1/auth/refresh", json={"refresh_token": citizen["refresh_token"]})
    assert resp.status_code in (401, 403)
    other = f"o_{uuid.uuid4().hex[:12]}"
    assert_error(await api.post("/mp/v1/auth/bind", json={"code": f"{other}:b2", "bind_code": code}), 400, "BIND_CODE_INVALID")


async def test_bind_code_for_an_account_bound_elsewhere(api, admin):
    inspector = await staff_token(api, "lc_inspector")
    me = (await api.get("/api/v1/me", headers=inspector)).json()
    code = (await api.post(f"/api/v1/users/{me['id']}/bind-code", headers=admin)).json()["bind_code"]
    first = f"o_{uuid.uuid4().hex[:12]}"
    assert (await api.post("/mp/v1/auth/bind", json={"code": f"{first}:1", "bind_code": code})).status_code == 200
    code2 = (await api.post(f"/api/v1/users/{me['id']}/bind-code", headers=admin)).json()["bind_code"]
    second = f"o_{uuid.uuid4().hex[:12]}"
    assert_error(await api.post("/mp/v1/auth/bind", json={"code": f"{second}:1", "bind_code": code2}), 409, "ALREADY_BOUND")
