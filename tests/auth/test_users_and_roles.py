"""User management by regulator admins, scoped by district."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


def _inspector(district: int) -> dict:
    return {
        "role": "inspector",
        "display_name": "新监督员",
        "username": f"u_{uuid.uuid4().hex[:8]}",
        "password": "Strong-pass-123",
        "district_adcode": district,
        "phone": "13800001234",
    }


async def test_city_admin_creates_any_district(api, admin):
    resp = await api.post("/api/v1/users", json=_inspector(330381), headers=admin)
    assert resp.status_code == 201
    body = resp.json()
    assert body["district_adcode"] == 330381 and body["phone_masked"] == "138****1234"
    assert "password_hash" not in body and "phone" not in body


async def test_district_admin_is_confined_to_its_district(api):
    lc_admin = await staff_token(api, "lc_admin")
    assert (await api.post("/api/v1/users", json=_inspector(330302), headers=lc_admin)).status_code == 201
    assert_error(await api.post("/api/v1/users", json=_inspector(330303), headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
    city_admin = {**_inspector(330302), "role": "regulator_admin", "district_adcode": None}
    assert_error(await api.post("/api/v1/users", json=city_admin, headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
    listing = (await api.get("/api/v1/users?limit=200", headers=lc_admin)).json()
    assert all(u["district_adcode"] in (330302, None) for u in listing["items"])
    assert_error(await api.get("/api/v1/users?district_adcode=330303", headers=lc_admin), 403, "FORBIDDEN_DISTRICT")


async def test_other_roles_cannot_manage_users(api):
    inspector = await staff_token(api, "lc_inspector")
    assert_error(await api.post("/api/v1/users", json=_inspector(330302), headers=inspector), 403, "FORBIDDEN_ROLE")
    citizen = bearer(await mp_login(api))
    assert_error(await api.get("/api/v1/users", headers=citizen), 403, "FORBIDDEN_ROLE")


async def test_role_field_rules(api, admin):
    no_district = {**_inspector(330302), "district_adcode": None}
    assert_error(await api.post("/api/v1/users", json=no_district, headers=admin), 400, "ROLE_DISTRICT_REQUIRED")
    lead = {"role": "project_lead", "display_name": "项目经理"}
    assert_error(await api.post("/api/v1/users", json=lead, headers=admin), 400, "ROLE_ENTERPRISE_REQUIRED")
    citizen = {"role": "citizen", "display_name": "市民"}
    assert_error(await api.post("/api/v1/users", json=citizen, headers=admin), 400, "ROLE_NOT_CREATABLE")
    missing = {**_inspector(330302), "password": None}
    assert_error(await api.post("/api/v1/users", json=missing, headers=admin), 400, "CREDENTIALS_REQUIRED")
    ghost = {**_inspector(330302), "district_adcode": 110101}
    assert_error(await api.post("/api/v1/users", json=ghost, headers=admin), 404, "DISTRICT_NOT_FOUND")


async def test_duplicate_username(api, admin):
    body = _inspector(330302)
    assert (await api.post("/api/v1/users", json=body, headers=admin)).status_code == 201
    assert_error(await api.post("/api/v1/users", json={**body, "username": body["username"].upper()}, headers=admin), 409, "USERNAME_TAKEN")
