"""Sessions end at once in every API process: the token version a process caches is dropped by PostgreSQL's
NOTIFY at commit (backend/accounts/sessions.py), whoever changed the row — here raw SQL on a connection of
its own, as another API process, piccolo-admin or an operator in psql would."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.support import env
from tests.support.api import bearer, mp_login
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _until_listening(timeout: float = 10.0) -> None:
    from backend.accounts import sessions

    deadline = asyncio.get_running_loop().time() + timeout
    while not sessions.listening():
        assert asyncio.get_running_loop().time() < deadline, "the API never listened to token_versions"
        await asyncio.sleep(0.05)


async def _refused_within(api, headers, seconds: float) -> float:
    start = asyncio.get_running_loop().time()
    while True:
        resp = await api.get("/mp/v1/me", headers=headers)
        waited = asyncio.get_running_loop().time() - start
        if resp.status_code == 401:
            assert_error(resp, 401, "TOKEN_REVOKED")
            return waited
        assert resp.status_code == 200, resp.text
        assert waited < seconds, f"the token still worked {waited:.2f} s after the change"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("change", [
    "UPDATE users SET is_active = false WHERE id = $1",
    "UPDATE users SET token_version = token_version + 1 WHERE id = $1",
])
async def test_a_change_made_elsewhere_ends_the_session_before_the_cached_copy_expires(api, app, change):
    settings = app.state.settings
    await _until_listening()
    pair = await mp_login(api)
    headers = bearer(pair)
    me = await api.get("/mp/v1/me", headers=headers)  # the version is cached now
    assert me.status_code == 200, me.text
    conn = await asyncpg.connect(env.DATABASE_URL)
    try:
        await conn.execute(change, uuid.UUID(me.json()["id"]))
    finally:
        await conn.close()
    # Well inside even the short trust (TOKEN_VERSION_CACHE_S, 2 s): only the notification can end it this soon.
    assert settings.TOKEN_VERSION_CACHE_S >= 1.0
    waited = await _refused_within(api, headers, settings.TOKEN_VERSION_CACHE_S / 2)
    assert waited < 1.0


async def test_a_lost_listener_falls_back_to_the_short_trust(app):
    from backend.accounts import sessions

    await _until_listening()
    assert sessions.trust_s(app.state.settings) == app.state.settings.TOKEN_VERSION_LISTEN_CACHE_S
    # The server ends the listening connection (as a restart or network cut would): the process trusts its
    # copies for the short time only until it listens again.
    conn = await asyncpg.connect(env.DATABASE_URL)
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = $1", sessions.APPLICATION_NAME)
    finally:
        await conn.close()
    assert killed >= 1
    deadline = asyncio.get_running_loop().time() + 5
    while sessions.listening():
        assert asyncio.get_running_loop().time() < deadline, "the loss went unnoticed"
        await asyncio.sleep(0.01)
    assert sessions.trust_s(app.state.settings) == app.state.settings.TOKEN_VERSION_CACHE_S
    await _until_listening(timeout=15)  # reconnected after a back-off
