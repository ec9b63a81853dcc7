"""backend.clients.wechat through real HTTP against the fake WeChat server, with the token in real Redis."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from backend.clients.wechat import WeChatClient, WeChatError
from backend.settings import Settings, load_settings
from tests.support import env
from tests.support.env import free_port
from tests.support.wechat import FakeWeChat, running_fake_wechat

# Redis db 14 by preference, claimed with the lock keys tests/support/env.py uses for its own db, so
# that a concurrent test run (or this run's app, should it hold 14) is never flushed by these tests.
REDIS_BASE = getattr(env, "REDIS_BASE", "redis://127.0.0.1:6379")
PREFERRED_DB = 14
SEND = "/cgi-bin/message/subscribe/send"
LOGIN = "/sns/jscode2session"
TOKEN = "/cgi-bin/token"
TEMPLATE = "tpl-complaint-accepted"
TEMPLATE_TIMED = "tpl-complaint-timed"
USERS = ["o_alice", "o_carol", "o_frank", "o_gina", "o_hank", "o_ivan", "o_judy", "o_kate", "o_liam", "o_mia", "o_nina", "o_otto",
         "o_nora"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    admin = redis.Redis.from_url(REDIS_BASE + "/0")
    owner = f"test_wechat:{uuid.uuid4().hex}"
    for index in (PREFERRED_DB, *range(1, 16)):
        lock = f"zhijian:test-db-lock:{index}"
        if admin.set(lock, owner, nx=True, ex=3600):
            break
    else:
        admin.close()
        raise RuntimeError("no free Redis database for the WeChat client tests")
    try:
        yield f"{REDIS_BASE}/{index}"
    finally:
        if admin.get(lock) == owner.encode():
            admin.delete(lock)
        admin.close()


@pytest.fixture(scope="module")
def wx_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def own_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeWeChat]:
    # A private fake: these tests fetch and expire tokens, which would invalidate the token that the
    # app under test (sharing the session's fake_wechat) keeps cached in its own Redis db.
    with running_fake_wechat(free_port(), tmp_path_factory.mktemp("wechat") / "fake.log") as fake:
        yield fake


def _register(fake: FakeWeChat) -> None:
    """This suite's mini-program: two templates and one page; its users accepted long-term (no quota)."""
    fake._post("/__fake__/app", {"templates": {TEMPLATE: ["thing1"], TEMPLATE_TIMED: ["thing1", "time2"]},
                                 "pages": ["pages/complaint/detail"]})
    for openid in USERS:
        fake.tap(openid, {TEMPLATE: "accept", TEMPLATE_TIMED: "accept"}, kind="long_term")


@pytest.fixture
def fake(own_fake: FakeWeChat, wx_redis: redis.Redis) -> FakeWeChat:
    own_fake.reset(tokens=True)
    wx_redis.flushdb()
    _register(own_fake)
    return own_fake


@pytest.fixture
def settings_for(fake: FakeWeChat, redis_url: str) -> Callable[..., Settings]:
    """Settings for a client of the private fake and Redis db; ``extra`` are more ZHIJIAN_ variables."""

    def build(**extra: str) -> Settings:
        env_vars = {
            "ZHIJIAN_ENV": "test",
            "ZHIJIAN_WECHAT_API_BASE_URL": fake.base_url,
            "ZHIJIAN_REDIS_URL": redis_url,
            **extra,
        }
        return load_settings(env_vars)

    return build


@pytest.fixture
def make_client(settings_for: Callable[..., Settings]) -> Iterator[Callable[..., WeChatClient]]:
    made: list[WeChatClient] = []

    def make(settings: Settings | None = None, **kwargs: object) -> WeChatClient:
        client = WeChatClient(settings or settings_for(), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def sends(fake: FakeWeChat) -> list[dict]:
    return fake.requests(SEND)


# -- login ------------------------------------------------------------------------------------------


async def test_code_to_session_signs_in_the_openid_of_the_code(fake, make_client):
    session = await make_client().code_to_session("o_alice:1")
    assert session.openid == "o_alice" and session.unionid == "u_o_alice" and session.session_key
    assert session.session_key not in repr(session)
    (call,) = fake.requests(LOGIN)
    assert call["query"]["js_code"] == "o_alice:1" and call["query"]["grant_type"] == "authorization_code"
    assert "access_token" not in call["query"]
    assert fake.stats()["token_fetches"] == 0  # login needs the secret, not an access token


async def test_other_codes_map_to_a_stable_openid(fake, make_client):
    client = make_client()
    first = await client.code_to_session("081AbCdEf")
    other = await client.code_to_session("081AbCdEg")
    fake.reset()
    again = await client.code_to_session("081AbCdEf")
    assert first.openid == again.openid != other.openid


async def test_a_code_is_single_use(make_client):
    client = make_client()
    await client.code_to_session("o_bob:1")
    with pytest.raises(WeChatError) as exc:
        await client.code_to_session("o_bob:1")
    assert exc.value.errcode == 40163


async def test_the_invalid_code_is_40029(make_client):
    with pytest.raises(WeChatError) as exc:
        await make_client().code_to_session("invalid")
    assert exc.value.errcode == 40029


@pytest.mark.parametrize("errcode", [40029, 45011, 40226, -1])
async def test_login_errors_surface_with_their_errcode(fake, make_client, errcode):
    fake.fail_next(LOGIN, errcode)
    client = make_client()
    with pytest.raises(WeChatError) as exc:
        await client.code_to_session("o_carol:1")
    assert exc.value.errcode == errcode and exc.value.errmsg
    # Only the next call failed; the code was not consumed by the failed call.
    assert (await client.code_to_session("o_carol:1")).openid == "o_carol"


@pytest.mark.parametrize(
    ("setting", "errcode"),
    [({"ZHIJIAN_WECHAT_APPID": "wx-wrong"}, 40013), ({"ZHIJIAN_WECHAT_SECRET": "wrong-secret"}, 40125)],
)
async def test_wrong_app_credentials(settings_for, make_client, setting, errcode):
    client = make_client(settings_for(**setting))
    for call in (lambda: client.code_to_session("o_dave:1"), client.access_token):
        with pytest.raises(WeChatError) as exc:
            await call()
        assert exc.value.errcode == errcode
        assert "wrong-secret" not in str(exc.value)


# -- access token ---------------------------------------------------------------------------------


async def test_access_token_is_cached_in_redis_and_shared(fake, settings_for, make_client, wx_redis):
    a, b = make_client(), make_client()
    token = await a.access_token()
    assert await b.access_token() == token
    assert await a.access_token() == token
    assert fake.stats()["token_fetches"] == 1
    key = f"wechatpy:{settings_for().WECHAT_APPID}_access_token"
    assert wx_redis.get(key) is not None
    assert 7200 - 300 - 5 <= wx_redis.ttl(key) <= 7200 - 300  # expires_in − 300 s


async def test_invalidate_fetches_a_new_token(fake, make_client):
    client = make_client()
    old = await client.access_token()
    await client.invalidate_access_token()
    assert await client.access_token() != old
    assert fake.stats()["token_fetches"] == 2


async def test_concurrent_first_use_fetches_the_token_once(fake, make_client):
    fake.delay(TOKEN, 300)  # widen the race: every caller arrives while the first fetch is in flight
    clients = [make_client() for _ in range(4)]
    tokens = await asyncio.gather(*(c.access_token() for c in clients for _ in range(5)))
    assert len(set(tokens)) == 1
    assert fake.stats()["token_fetches"] == 1


def test_concurrent_first_use_from_threads_fetches_the_token_once(fake, settings_for):
    """Each thread is its own client with its own event loop and Redis connection, like a process."""
    fake.delay(TOKEN, 300)
    settings = settings_for()
    barrier = threading.Barrier(6)
    results: list[str | BaseException] = []

    def worker() -> None:
        client = WeChatClient(settings)
        try:
            barrier.wait()
            results.append(asyncio.run(client.access_token()))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 6 and len(set(results)) == 1 and isinstance(results[0], str), results
    assert fake.stats()["token_fetches"] == 1


async def test_token_fetch_has_a_timeout(fake, make_client):
    # wechatpy's own fetch_access_token sends no timeout at all; ours uses the client's.
    fake.delay(TOKEN, 2000)
    client = make_client(timeout=(1.0, 0.2))
    started = time.monotonic()
    with pytest.raises(WeChatError) as exc:
        await client.access_token()
    assert exc.value.errcode == -2 and exc.value.errmsg.startswith("network:")
    assert time.monotonic() - started < 1.5
    # The abandoned fetch still completes at the fake 2 s later and replaces the token: let it land
    # here, not in a later test that holds a token.
    deadline = time.monotonic() + 10
    while fake.stats()["token_fetches"] < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def test_unreachable_wechat_is_a_network_error(settings_for, make_client):
    settings = settings_for(ZHIJIAN_WECHAT_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    client = make_client(settings)
    for call in (lambda: client.code_to_session("o_erin:1"), client.access_token):
        with pytest.raises(WeChatError) as exc:
            await call()
        assert exc.value.errcode == -2 and exc.value.errmsg.startswith("network:")
        assert settings.WECHAT_SECRET not in exc.value.errmsg


async def test_proxy_variables_of_the_environment_are_not_read(fake, make_client, monkeypatch):
    """requests would read *_proxy and ~/.netrc on every call; the client reads neither (a proxy is a setting)."""
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.setenv("NO_PROXY", "")
    assert await make_client().send_subscribe_message("o_alice", TEMPLATE, {"thing1": {"value": "经代理之外"}})


async def test_the_proxy_setting_routes_every_call(settings_for, make_client):
    """WECHAT_HTTP_PROXY is used: pointed at a closed port, a call fails as a network error (retried)."""
    client = make_client(settings_for(ZHIJIAN_WECHAT_HTTP_PROXY=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(WeChatError) as exc:
        await client.send_subscribe_message("o_alice", TEMPLATE, {"thing1": {"value": "x"}})
    assert exc.value.errcode == -2 and exc.value.errmsg.startswith("network:")


# -- subscribe messages ---------------------------------------------------------------------------


async def test_send_subscribe_message(fake, make_client):
    client = make_client()
    msgid = await client.send_subscribe_message(
        "o_frank",
        TEMPLATE_TIMED,
        {"thing1": {"value": "鹿城区某项目"}, "time2": "2026-01-05 10:00"},
        page="pages/complaint/detail?id=7",
        miniprogram_state="trial",
    )
    second = await client.send_subscribe_message("o_frank", TEMPLATE, {"thing1": {"value": "x"}})
    assert isinstance(msgid, int) and second == msgid + 1
    first_msg = fake.messages()[0]
    assert first_msg["touser"] == "o_frank" and first_msg["template_id"] == TEMPLATE_TIMED
    assert first_msg["data"] == {"thing1": {"value": "鹿城区某项目"}, "time2": {"value": "2026-01-05 10:00"}}
    assert first_msg["page"] == "pages/complaint/detail?id=7"
    assert first_msg["miniprogram_state"] == "trial" and first_msg["lang"] == "zh_CN"
    assert "page" not in fake.messages()[1]
    assert fake.stats()["token_fetches"] == 1


async def test_thing_values_over_20_characters_are_refused(fake, make_client):
    client = make_client()
    assert await client.send_subscribe_message("o_gina", TEMPLATE, {"thing1": {"value": "一" * 20}})
    with pytest.raises(WeChatError) as exc:
        await client.send_subscribe_message("o_gina", TEMPLATE, {"thing1": {"value": "一" * 21}})
    assert exc.value.errcode == 47003 and exc.value.errmsg == "argument invalid! data.thing1.value"
    assert len(sends(fake)) == 2 and len(fake.messages()) == 1


async def test_success_without_msgid_is_a_success_sent_once(fake, make_client):
    """WeChat documents {"errcode":0,"errmsg":"ok"}: no msgid, no error, no second send."""
    fake.omit_msgid()
    try:
        assert await make_client().send_subscribe_message("o_alice", TEMPLATE, {"thing1": {"value": "ok"}}) is None
    finally:
        fake.omit_msgid(False)
    assert len(sends(fake)) == 1 and len(fake.messages()) == 1


@pytest.mark.parametrize(
    ("openid", "template", "data", "page", "errcode", "errmsg"),
    [
        ("o_stranger", TEMPLATE, {"thing1": "ok"}, None, 40003, "invalid openid"),
        ("o_alice", "tpl-nope", {"thing1": "ok"}, None, 40037, "invalid template_id"),
        ("o_alice", TEMPLATE, {"thing1": "ok"}, "pages/nope/index", 41030, "invalid page"),
        ("o_alice", TEMPLATE_TIMED, {"thing1": "ok", "time2": "2026-12-03 23:07:14…"}, None, 47003,
         "argument invalid! data.time2.value"),
        ("o_alice", TEMPLATE_TIMED, {"thing1": "ok"}, None, 47003, "argument invalid! data.time2.value"),
        ("o_alice", TEMPLATE, {"thing1": "ok", "phrase9": "多余"}, None, 47003, "argument invalid! data.phrase9.value"),
        ("o_alice", TEMPLATE, {"thing1": 5}, None, 47003, "argument invalid! data.thing1.value"),
    ],
)
async def test_the_strict_fake_refuses_what_wechat_refuses(fake, make_client, openid, template, data, page, errcode, errmsg):
    with pytest.raises(WeChatError) as exc:
        await make_client().send_subscribe_message(openid, template, data, page=page)
    assert (exc.value.errcode, exc.value.errmsg) == (errcode, errmsg)
    assert fake.messages() == [] and fake.refusals()[-1]["errcode"] == errcode


async def test_only_an_unused_acceptance_may_be_spent(fake, make_client):
    client = make_client()
    with pytest.raises(WeChatError) as exc:  # never accepted
        await client.send_subscribe_message("o_newbie", TEMPLATE, {"thing1": {"value": "ok"}})
    assert exc.value.errcode == 40003  # WeChat has never seen this user
    fake.tap("o_newbie", {TEMPLATE: "reject"})
    with pytest.raises(WeChatError) as exc:
        await client.send_subscribe_message("o_newbie", TEMPLATE, {"thing1": {"value": "ok"}})
    assert exc.value.errcode == 43101
    fake.accept("o_newbie", TEMPLATE, times=2)
    for _ in range(2):
        assert await client.send_subscribe_message("o_newbie", TEMPLATE, {"thing1": {"value": "ok"}})
    with pytest.raises(WeChatError) as exc:  # both acceptances spent
        await client.send_subscribe_message("o_newbie", TEMPLATE, {"thing1": {"value": "ok"}})
    assert exc.value.errcode == 43101 and len(fake.messages()) == 2


async def test_unknown_miniprogram_state_is_refused_before_sending(fake, make_client):
    with pytest.raises(ValueError):
        await make_client().send_subscribe_message("o_hank", TEMPLATE, {}, miniprogram_state="beta")
    assert sends(fake) == []


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_token_errors_refresh_once_and_retry(fake, make_client, wx_redis, errcode):
    client = make_client()
    old = await client.access_token()
    fake.fail_next(SEND, errcode)
    assert await client.send_subscribe_message("o_ivan", TEMPLATE, {"thing1": {"value": "ok"}})
    first, retry = sends(fake)
    assert first["query"]["access_token"] == old != retry["query"]["access_token"]
    assert fake.stats()["token_fetches"] == 2 and len(fake.messages()) == 1
    assert await client.access_token() == retry["query"]["access_token"]  # the new token is shared


async def test_expired_token_is_refreshed_and_the_send_retried(fake, make_client):
    client = make_client()
    await client.access_token()
    fake.expire_token()  # the fake itself answers 42001 for this token now
    assert await client.send_subscribe_message("o_judy", TEMPLATE, {"thing1": {"value": "ok"}})
    assert len(sends(fake)) == 2 and fake.stats()["token_fetches"] == 2 and len(fake.messages()) == 1


async def test_a_token_error_is_retried_only_once(fake, make_client):
    client = make_client()
    fake.fail_next(SEND, 40001, times=2)
    with pytest.raises(WeChatError) as exc:
        await client.send_subscribe_message("o_kate", TEMPLATE, {"thing1": {"value": "ok"}})
    assert exc.value.errcode == 40001
    assert len(sends(fake)) == 2 and fake.stats()["token_fetches"] == 2


async def test_two_clients_with_a_rejected_token_refresh_it_once(fake, make_client):
    """Both hold the expired token; the second sees the first's new token under the lock and reuses it."""
    a, b = make_client(), make_client()
    await a.access_token()
    fake.expire_token()
    fake.delay(SEND, 200)  # both sends leave with the old token before either learns it expired
    ids = await asyncio.gather(
        a.send_subscribe_message("o_liam", TEMPLATE, {"thing1": {"value": "a"}}),
        b.send_subscribe_message("o_mia", TEMPLATE, {"thing1": {"value": "b"}}),
    )
    assert len(set(ids)) == 2 and len(fake.messages()) == 2
    assert fake.stats()["token_fetches"] == 2  # the first fetch and exactly one refresh


@pytest.mark.parametrize("errcode", [43101, 40003, 47003, 45011, -1])
async def test_other_send_errors_raise_without_retry(fake, make_client, errcode):
    client = make_client()
    fake.fail_next(SEND, errcode)
    with pytest.raises(WeChatError) as exc:
        await client.send_subscribe_message("o_nina", TEMPLATE, {"thing1": {"value": "ok"}})
    assert exc.value.errcode == errcode
    assert len(sends(fake)) == 1 and fake.messages() == []
    assert fake.stats()["token_fetches"] == 1


# -- the error type and the fake's wire format ------------------------------------------------------


def test_wechat_error_survives_pickling():
    err = pickle.loads(pickle.dumps(WeChatError(43101, "user refused")))
    assert isinstance(err, WeChatError) and (err.errcode, err.errmsg) == (43101, "user refused")


def test_fake_answers_errors_with_http_200_and_stable_token_is_stable(fake, settings_for):
    settings = settings_for()
    with httpx.Client(base_url=fake.base_url) as http:
        resp = http.get(LOGIN, params={"appid": settings.WECHAT_APPID, "secret": "x", "js_code": "c"})
        assert resp.status_code == 200 and resp.json()["errcode"] == 40125
        body = {
            "grant_type": "client_credential",
            "appid": settings.WECHAT_APPID,
            "secret": settings.WECHAT_SECRET,
        }
        first = http.post("/cgi-bin/stable_token", json=body).json()["access_token"]
        assert http.post("/cgi-bin/stable_token", json=body).json()["access_token"] == first
        forced = http.post("/cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
        assert forced["access_token"] != first
    assert fake.stats()["token_fetches"] == 2


async def test_reset_keeps_the_current_token_valid(fake, make_client):
    """Processes keep the token cached in Redis across a test's reset: their next call must not fail."""
    client = make_client()
    first = await client.send_subscribe_message("o_otto", TEMPLATE, {"thing1": {"value": "a"}})
    fake.reset()
    second = await client.send_subscribe_message("o_otto", TEMPLATE, {"thing1": {"value": "b"}})
    assert second > first  # msgids stay unique across resets
    assert len(sends(fake)) == 1 and fake.stats()["token_fetches"] == 0
    fake.reset(tokens=True)
    assert await client.send_subscribe_message("o_otto", TEMPLATE, {"thing1": {"value": "c"}})
    assert len(sends(fake)) == 2  # the forgotten token answered 40001 once, then a refresh


async def test_a_client_reads_the_shared_token_once_and_learns_a_replaced_one_at_the_first_refusal(
        fake, make_client, wx_redis, settings_for):
    """Each client keeps its copy of the token for LOCAL_TOKEN_S (no Redis read per message); a token another
    process replaced meanwhile is refused by WeChat (40001), and the client then takes the new one from Redis
    — no second fetch — and sends once more."""
    from backend.clients import wechat as wechat_module

    a, other_process = make_client(), make_client()
    old = await a.access_token()
    key = f"wechatpy:{settings_for().WECHAT_APPID}_access_token"
    wx_redis.delete(key)  # while a's copy holds, Redis is not read: a still answers with its copy
    assert await a.access_token() == old
    assert wechat_module.LOCAL_TOKEN_S >= 1
    await other_process.invalidate_access_token()
    new = await other_process.access_token()  # the fake invalidates the old token on this fetch
    assert new != old and fake.stats()["token_fetches"] == 2
    await a.send_subscribe_message("o_nora", TEMPLATE, {"thing1": {"value": "ok"}})
    first, retry = sends(fake)[-2:]
    assert first["query"]["access_token"] == old and retry["query"]["access_token"] == new
    assert fake.stats()["token_fetches"] == 2 and len(fake.messages()) == 1
