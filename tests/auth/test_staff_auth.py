"""Staff sign-in, refresh rotation and reuse detection, logout, and token tampering."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from tests.support.api import from_address, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def _new_inspector(api, admin, district=330302, password="Strong-pass-123"):
    username = f"insp_{uuid.uuid4().hex[:8]}"
    resp = await api.post(
        "/api/v1/users",
        json={
            "role": "inspector",
            "display_name": "测试监督员",
            "username": username,
            "password": password,
            "district_adcode": district,
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    return username, resp.json()


async def test_login_and_me(api):
    headers = await staff_token(api, "lc_inspector")
    me = (await api.get("/api/v1/me", headers=headers)).json()
    assert me["kind"] == "user" and me["role"] == "inspector" and me["district_adcode"] == 330302


async def test_bad_password_and_unknown_user_look_the_same(api):
    a = await api.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "wrong-password-1"})
    b = await api.post("/api/v1/auth/login", json={"username": "nobody_here", "password": "wrong-password-1"})
    assert_error(a, 401, "BAD_CREDENTIALS")
    assert_error(b, 401, "BAD_CREDENTIALS")


async def test_repeated_failures_are_throttled(api, admin):
    username, _ = await _new_inspector(api, admin)
    for _ in range(10):
        resp = await api.post("/api/v1/auth/login", json={"username": username, "password": "nope-nope-123"})
        assert resp.status_code == 401
    resp = await api.post("/api/v1/auth/login", json={"username": username, "password": "Strong-pass-123"})
    body = assert_error(resp, 429, "RATE_LIMITED")
    assert body["detail"]["retry_after_s"] > 0


async def test_sign_ins_from_one_address_are_throttled(api):
    # 100 attempts per address per 15 minutes, whatever the names tried; other addresses are unaffected
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    async with from_address(api, address) as client:
        for i in range(100):
            resp = await client.post("/api/v1/auth/login", json={"username": f"guess_{i}", "password": "nope-nope-123"})
            assert resp.status_code == 401, resp.text
        body = assert_error(
            await client.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "Demo-pass-2026"}),
            429, "RATE_LIMITED",
        )
        assert body["detail"]["retry_after_s"] > 0
    assert (await staff_token(api, "lw_inspector"))["Authorization"].startswith("Bearer ")


async def test_refresh_rotates_and_reuse_revokes_the_login(api):
    first = (await api.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "Demo-pass-2026"})).json()
    second = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    # The old token replayed (e.g. stolen): refused, and the whole family is revoked.
    assert_error(await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401, "REFRESH_TOKEN_REUSED")
    assert_error(await api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401, "REFRESH_TOKEN_INVALID")


async def test_logout_revokes_refresh(api):
    pair = (await api.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "Demo-pass-2026"})).json()
    assert (await api.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
    assert_error(await api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401, "REFRESH_TOKEN_INVALID")


async def test_refresh_tokens_are_stored_hashed(api):
    from backend.accounts.tables import RefreshToken

    pair = (await api.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "Demo-pass-2026"})).json()
    assert not await RefreshToken.exists().where(RefreshToken.token_hash == pair["refresh_token"])
    assert await RefreshToken.count() > 0


async def test_disabled_user_cannot_sign_in_or_refresh(api, admin):
    username, user = await _new_inspector(api, admin)
    pair = (await api.post("/api/v1/auth/login", json={"username": username, "password": "Strong-pass-123"})).json()
    resp = await api.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=admin)
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    assert_error(await api.post("/api/v1/auth/login", json={"username": username, "password": "Strong-pass-123"}), 403, "ACCOUNT_DISABLED")
    resp = await api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert resp.status_code in (401, 403)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_expired_tampered_and_foreign_tokens(api):
    from backend.settings import get_settings

    settings = get_settings()
    good = (await api.post("/api/v1/auth/login", json={"username": "lw_inspector", "password": "Demo-pass-2026"})).json()
    claims = jwt.decode(good["access_token"], options={"verify_signature": False})

    expired = jwt.encode({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, settings.JWT_SECRET, algorithm="HS256")
    assert_error(await api.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}), 401, "TOKEN_EXPIRED")

    header, _, sig = good["access_token"].split(".")
    promoted = _b64({**claims, "role": "regulator_admin", "dst": None})
    tampered = f"{header}.{promoted}.{sig}"
    assert_error(await api.get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"}), 401, "TOKEN_INVALID")

    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{promoted}."
    assert_error(await api.get("/api/v1/me", headers={"Authorization": f"Bearer {unsigned}"}), 401, "TOKEN_INVALID")

    foreign = jwt.encode(claims, "another-secret-of-at-least-32-bytes!!", algorithm="HS256")
    assert_error(await api.get("/api/v1/me", headers={"Authorization": f"Bearer {foreign}"}), 401, "TOKEN_INVALID")

    refresh_as_access = good["refresh_token"]
    assert_error(await api.get("/api/v1/me", headers={"Authorization": f"Bearer {refresh_as_access}"}), 401, "TOKEN_INVALID")


async def test_weak_password_refused(api, admin):
    resp = await api.post(
        "/api/v1/users",
        json={"role": "inspector", "display_name": "弱密码", "username": f"weak_{uuid.uuid4().hex[:6]}", "password": "short", "district_adcode": 330302},
        headers=admin,
    )
    assert_error(resp, 400, "PASSWORD_WEAK")
