"""Department API keys: issued by city-wide admins, hashed at rest, scoped, revocable."""

from __future__ import annotations

import pytest

from tests.support.api import staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def _key(api, admin, scopes):
    resp = await api.post(
        "/api/v1/api-keys", json={"name": "信用查询", "department": "市交通局", "scopes": scopes}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_key_with_scope_queries_an_enterprise(api, admin):
    created = await _key(api, admin, ["enterprises:read"])
    headers = {"X-API-Key": created["key"]}
    me = (await api.get("/api/v1/me", headers=headers)).json()
    assert me["kind"] == "api_key" and me["scopes"] == ["enterprises:read"]
    resp = await api.get("/api/v1/partner/enterprises/91330303MA2CD3E4FR", headers=headers)
    assert resp.status_code == 200 and resp.json()["name"] == "浙江瓯江建设集团有限公司"
    assert "phone" not in resp.json()
    assert_error(await api.get("/api/v1/partner/enterprises/91330303MA2CD3E4F0", headers=headers), 400, "USCC_INVALID")


async def test_key_without_scope_and_user_tokens_are_refused(api, admin):
    created = await _key(api, admin, ["credit:read"])
    resp = await api.get("/api/v1/partner/enterprises/91330303MA2CD3E4FR", headers={"X-API-Key": created["key"]})
    assert_error(resp, 403, "API_KEY_SCOPE")
    assert_error(await api.get("/api/v1/partner/enterprises/91330303MA2CD3E4FR", headers=admin), 403, "API_KEY_SCOPE")
    # A key is not a user: regulator routes refuse it.
    assert_error(await api.get("/api/v1/users", headers={"X-API-Key": created["key"]}), 403, "FORBIDDEN_ROLE")


async def test_key_is_hashed_at_rest_and_revocable(api, admin):
    from backend.accounts.tables import ApiKey

    created = await _key(api, admin, ["enterprises:read"])
    rows = await ApiKey.select().where(ApiKey.id == created["api_key"]["id"])
    assert created["key"] not in str(rows)
    listed = (await api.get("/api/v1/api-keys", headers=admin)).json()
    assert all("key" not in k and "key_hash" not in k for k in listed)
    resp = await api.post(f"/api/v1/api-keys/{created['api_key']['id']}/revoke", headers=admin)
    assert resp.status_code == 200 and resp.json()["revoked_at"]
    assert_error(await api.get("/api/v1/me", headers={"X-API-Key": created["key"]}), 401, "API_KEY_INVALID")


async def test_bad_keys_and_issuers(api, admin):
    assert_error(await api.get("/api/v1/me", headers={"X-API-Key": "zk_nope_nope"}), 401, "API_KEY_INVALID")
    assert_error(await api.get("/api/v1/me", headers={"X-API-Key": "garbage"}), 401, "API_KEY_INVALID")
    created = await _key(api, admin, ["enterprises:read"])
    forged = created["key"][:-4] + "AAAA"
    assert_error(await api.get("/api/v1/me", headers={"X-API-Key": forged}), 401, "API_KEY_INVALID")
    lc_admin = await staff_token(api, "lc_admin")
    resp = await api.post("/api/v1/api-keys", json={"name": "x", "department": "y", "scopes": ["enterprises:read"]}, headers=lc_admin)
    assert_error(resp, 403, "FORBIDDEN_ROLE")
    resp = await api.post("/api/v1/api-keys", json={"name": "x", "department": "y", "scopes": ["root:all"]}, headers=admin)
    assert_error(resp, 400, "SCOPE_UNKNOWN")
