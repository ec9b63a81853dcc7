"""The API under test (ASGI in the test's own event loop) and sign-in helpers."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from stdnum.cn import uscc as uscc_std

STAFF_PASSWORD = "Demo-pass-2026"
ADMIN_PASSWORD = "Admin-demo-2026"
_counter = itertools.count(1)


@pytest_asyncio.fixture(scope="session")
async def app(database, s3_server, redis_db, fake_wechat):  # noqa: ANN001 - fixtures
    from backend.app import create_app
    from backend.settings import get_settings

    application = create_app(get_settings())
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


BASE_URL = "http://zhijian.test"


@pytest_asyncio.fixture(scope="session")
async def api(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        client.app = app  # staff_token signs in from a device of its own through the same app
        yield client


@contextlib.asynccontextmanager
async def from_address(api: httpx.AsyncClient, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app whose requests come from `address`."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def staff_token(api: httpx.AsyncClient, username: str, password: str | None = None) -> dict[str, str]:
    """Authorization header for a staff user (demo passwords by default).

    Each sign-in comes from an address of its own, as staff on their own phones do: hundreds of helper
    sign-ins from the one test address would trip the per-address sign-in limit, which tests of that
    limit post to `api` directly to exercise.
    """
    pw = password or (ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD)
    n = next(_counter)
    async with from_address(api, f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}") as client:
        resp = await client.post("/api/v1/auth/login", json={"username": username, "password": pw})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


async def mp_login(api: httpx.AsyncClient, openid: str | None = None, *, accept_privacy: bool = True) -> dict[str, Any]:
    """Mini-program sign-in through the fake WeChat server; returns the token pair. As the mini-program does on
    first use, the user then reads and accepts the current privacy notices (issue 23) unless ``accept_privacy``
    is False (tests of the consent itself)."""
    code = f"{openid or 'citizen-' + uuid.uuid4().hex[:10]}:{next(_counter)}"
    resp = await api.post("/mp/v1/auth/login", json={"code": code})
    assert resp.status_code == 200, resp.text
    pair = {**resp.json(), "openid": code.split(":", 1)[0]}  # the fake signs in "<openid>:<nonce>" as openid
    if accept_privacy:
        await accept_notices(api, pair)
    return pair


async def accept_notices(api: httpx.AsyncClient, pair: dict[str, Any], items: list[str] | None = None) -> None:
    """The user accepts the current version of the privacy notices (all of them, or ``items``) not yet accepted."""
    notices = await api.get("/mp/v1/privacy/notices", headers=bearer(pair))
    assert notices.status_code == 200, notices.text
    for n in notices.json()["notices"]:
        if (items is None or n["item"] in items) and not n["current"]:
            resp = await api.post("/mp/v1/privacy/consents", json={"item": n["item"], "version": n["version"]},
                                  headers=bearer(pair))
            assert resp.status_code == 201, resp.text


async def subscribe(api: httpx.AsyncClient, pair: dict[str, Any], fake: Any, template_ids: list[str] | str, times: int = 1) -> None:
    """The user accepts in wx.requestSubscribeMessage ``times`` times: WeChat learns of each tap (the
    fake's control endpoint) and the mini-program reports it to us (POST /mp/v1/subscriptions)."""
    ids = [template_ids] if isinstance(template_ids, str) else list(template_ids)
    for _ in range(times):
        fake.accept(pair["openid"], ids)
        resp = await api.post("/mp/v1/subscriptions", json={"results": {t: "accept" for t in ids}}, headers=bearer(pair))
        assert resp.status_code == 200, resp.text


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def new_uscc(adcode: int = 330302) -> str:
    """A fresh valid unified social credit code."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    n = uuid.uuid4().int
    org = "".join(alphabet[(n >> (5 * i)) % len(alphabet)] for i in range(9))
    body = f"91{adcode}{org}"
    return body + uscc_std.calc_check_digit(body + "0")


def new_permit() -> str:
    return f"TEST{uuid.uuid4().hex[:12].upper()}"


@pytest_asyncio.fixture(scope="session")
async def admin(api) -> dict[str, str]:  # noqa: ANN001
    return await staff_token(api, "admin")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
