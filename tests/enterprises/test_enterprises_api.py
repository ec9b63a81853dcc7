"""Enterprises: credit-code validation (GB 32100), duplicates, roles."""

from __future__ import annotations

import pytest

from tests.support.api import bearer, mp_login, new_uscc, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def test_create_normalises_and_validates(api, admin):
    code = new_uscc()
    resp = await api.post(
        "/api/v1/enterprises",
        json={"uscc": code.lower(), "name": "温州测试建设有限公司", "kinds": ["general_contractor", "owner"], "district_adcode": 330302},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["uscc"] == code and body["kinds"] == ["general_contractor", "owner"]
    fetched = (await api.get(f"/api/v1/enterprises/{body['id']}", headers=admin)).json()
    assert fetched == body
    dup = await api.post("/api/v1/enterprises", json={"uscc": code, "name": "重复", "kinds": ["owner"]}, headers=admin)
    assert_error(dup, 409, "USCC_DUPLICATE")


@pytest.mark.parametrize(
    "bad",
    [
        "91330302MA2AB1C2D0",  # wrong check character
        "91330302MA2AB1C2D",  # too short
        "9133030IMA2AB1C2DL",  # I is not in the alphabet
        "00330302MA2AB1C2DL",  # no such registration authority
    ],
)
async def test_bad_credit_codes(api, admin, bad):
    resp = await api.post("/api/v1/enterprises", json={"uscc": bad, "name": "坏代码公司", "kinds": ["owner"]}, headers=admin)
    assert resp.status_code == 400 and resp.json()["code"] in ("USCC_INVALID", "VALIDATION_ERROR")


async def test_only_admins_write_and_others_read_what_they_may(api, admin):
    inspector = await staff_token(api, "lc_inspector")
    resp = await api.post("/api/v1/enterprises", json={"uscc": new_uscc(), "name": "无权公司", "kinds": ["owner"]}, headers=inspector)
    assert_error(resp, 403, "FORBIDDEN_ROLE")
    assert (await api.get("/api/v1/enterprises?kind=supervision", headers=inspector)).json()["total"] >= 1
    citizen = bearer(await mp_login(api))
    assert_error(await api.get("/api/v1/enterprises", headers=citizen), 403, "FORBIDDEN_ROLE")

    supervisor = await staff_token(api, "sup_li")
    items = (await api.get("/api/v1/enterprises?q=正衡", headers=admin)).json()["items"]
    own = items[0]["id"]
    assert (await api.get(f"/api/v1/enterprises/{own}", headers=supervisor)).status_code == 200
    other = (await api.get("/api/v1/enterprises?q=瓯江", headers=admin)).json()["items"][0]["id"]
    assert_error(await api.get(f"/api/v1/enterprises/{other}", headers=supervisor), 403, "FORBIDDEN_ROLE")


async def test_update(api, admin):
    created = (await api.post("/api/v1/enterprises", json={"uscc": new_uscc(), "name": "改名前公司", "kinds": ["owner"]}, headers=admin)).json()
    resp = await api.patch(f"/api/v1/enterprises/{created['id']}", json={"name": "改名后公司", "kinds": ["owner", "design"]}, headers=admin)
    assert resp.status_code == 200 and resp.json()["name"] == "改名后公司" and resp.json()["kinds"] == ["design", "owner"]
    assert_error(await api.patch(f"/api/v1/enterprises/{created['id']}", json={"uscc": "x"}, headers=admin), 400, "VALIDATION_ERROR")
