"""WeChat server APIs (login, subscribe messages, access token) through wechatpy.

wechatpy 1.8 is synchronous (requests), so every call runs in this client's own small thread pool,
off the event loop and apart from other ``to_thread`` users; a slow WeChat cannot starve them.
Its three hard-coded base URLs point at ``ZHIJIAN_WECHAT_API_BASE_URL`` (the fake on loopback in
dev and tests). The access token lives in Redis (wechatpy's ``RedisStorage``) and is refreshed
under a Redis lock: every fetch from WeChat invalidates the previous token, so all processes must
share one and only one of them may fetch it.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import requests
import structlog
from wechatpy import WeChatClient as _WechatpyClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from backend.clients import wechat_rules as rules
from backend.settings import Settings

log = structlog.get_logger("zhijian.wechat")

T = TypeVar("T")

#: errcodes that mean "this access token is no good": refresh once and retry once (wechat_rules.py).
TOKEN_ERRORS = frozenset(c for c, e in rules.ERROR_CODES.items() if e.action is rules.Action.REFRESH_TOKEN)
#: our own errcode for "WeChat could not be reached or answered nonsense".
NETWORK_ERROR = rules.NETWORK_ERROR
TOKEN_MARGIN_S = 300
LOCAL_TOKEN_S = 5.0  # how long a client trusts its copy of the shared access token before reading Redis again
DEFAULT_TIMEOUT = (3.0, 5.0)  # (connect, read) seconds
MINIPROGRAM_STATES = rules.MINIPROGRAM_STATES
STORAGE_PREFIX = "wechatpy"


class WeChatError(Exception):
    """WeChat answered an errcode (or could not be reached: errcode -2)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def __reduce__(self) -> tuple[Any, ...]:
        # ARQ pickles a failed job's exception; keep both fields through the round trip.
        return (type(self), (self.errcode, self.errmsg))


@dataclass(frozen=True, slots=True)
class WxSession:
    """code2Session's answer. ``session_key`` stays on the server and out of logs and reprs."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


class _Wechatpy(_WechatpyClient):
    """wechatpy with its three hard-coded base URLs replaced and a shared, locked token refresh."""

    def __init__(
        self, settings: Settings, storage: RedisStorage, lock_redis: redis.Redis, timeout: tuple[float, float]
    ) -> None:
        # auto_retry=False: wechatpy's own retry refetches the token without a lock, on every
        # 40001, and recurses without bound; the facade does one locked refresh instead.
        super().__init__(
            settings.WECHAT_APPID, settings.WECHAT_SECRET, session=storage, timeout=timeout, auto_retry=False
        )
        self.base_url = settings.WECHAT_API_BASE_URL.rstrip("/") + "/"
        self.API_BASE_URL = self.base_url + "cgi-bin/"
        self.wxa.API_BASE_URL = self.base_url
        self.token_url = self.base_url + "cgi-bin/token"
        # No proxy or netrc lookup from the environment per request (requests' trust_env reads ~/.netrc and every
        # *_proxy variable on each call: a tenth of the delivery worker's samples); a proxy is set explicitly.
        self._http.trust_env = False
        if settings.WECHAT_HTTP_PROXY:
            self._http.proxies = {"http": settings.WECHAT_HTTP_PROXY, "https": settings.WECHAT_HTTP_PROXY}
        self._lock_redis = lock_redis
        self._lock_name = f"{STORAGE_PREFIX}:{self.appid}:token-lock"
        self._lock_timeout = sum(timeout) + 5
        # This client's copy of the shared token, read from Redis at most every LOCAL_TOKEN_S: a Redis GET per
        # message was a tenth of the delivery worker's time. A token replaced meanwhile by another process is
        # answered 40001; _with_token then refreshes from Redis (under the lock) and retries once.
        self._local: tuple[str, float] = ("", 0.0)

    def fetch_access_token(self) -> dict[str, Any]:
        """GET /cgi-bin/token and cache it for expires_in − 300 s.

        Replaces wechatpy's version, which has the URL hard-coded, sends no timeout (it could hang
        forever) and caches the token for the full expires_in.
        """
        res = self._http.get(
            self.token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.RequestException as exc:
            raise WeChatClientException(None, None, client=self, request=exc.request, response=exc.response)
        result = self._handle_result(res)  # raises on an errcode (auto_retry is off)
        if not isinstance(result, dict) or not result.get("access_token"):
            raise WeChatClientException(None, "no access_token in answer", client=self, response=res)
        ttl = max(int(result.get("expires_in", 7200)) - TOKEN_MARGIN_S, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        return result

    @property
    def access_token(self) -> str:
        """The shared token; fetched (once, under the lock) when Redis has none."""
        token, until = self._local
        if token and time.monotonic() < until:
            return token
        token = self.session.get(self.access_token_key)
        if token:
            self._local = (token, time.monotonic() + LOCAL_TOKEN_S)
            return token
        return self.refresh_token(stale=None)

    def refresh_token(self, stale: str | None) -> str:
        """Fetch a new token, unless another process already replaced ``stale`` while we waited."""
        with self._lock_redis.lock(
            self._lock_name, timeout=self._lock_timeout, blocking_timeout=self._lock_timeout
        ):
            current = self.session.get(self.access_token_key)
            if not current or current == stale:
                current = self.fetch_access_token()["access_token"]
            self._local = (current, time.monotonic() + LOCAL_TOKEN_S)
            return current


def _call(fn: Callable[[], T]) -> T:
    """Run one wechatpy step, turning its exceptions (and the network's) into WeChatError."""
    try:
        return fn()
    except WeChatClientException as exc:
        if exc.errcode is None:
            status = getattr(exc.response, "status_code", None)
            raise WeChatError(NETWORK_ERROR, f"network: {exc.errmsg or f'http {status}'}") from None
        raise WeChatError(int(exc.errcode), str(exc.errmsg)) from None
    except requests.RequestException as exc:
        # `from None`: the chained exception would carry the request URL (appid and secret).
        raise WeChatError(NETWORK_ERROR, f"network: {type(exc).__name__}") from None
    except redis.RedisError as exc:
        raise WeChatError(NETWORK_ERROR, f"network: token cache {type(exc).__name__}") from None


class WeChatClient:
    """Async facade over wechatpy: code2Session, subscribe messages and the shared access token."""

    def __init__(
        self, settings: Settings, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, max_threads: int = 16
    ) -> None:
        self._settings = settings
        self._timeout = timeout
        self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=3)
        self._storage = RedisStorage(self._redis, prefix=STORAGE_PREFIX)
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="wechat")
        # One wechatpy client (one requests.Session) per concurrent call: Sessions are not thread-safe.
        self._idle: queue.SimpleQueue[_Wechatpy] = queue.SimpleQueue()
        self._clients: list[_Wechatpy] = []
        self._clients_lock = threading.Lock()
        self._closed = False

    @contextmanager
    def _borrow(self) -> Iterator[_Wechatpy]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = _Wechatpy(self._settings, self._storage, self._redis, self._timeout)
            with self._clients_lock:
                self._clients.append(client)
        try:
            yield client
        finally:
            self._idle.put(client)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("WeChatClient is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    # -- login -----------------------------------------------------------------------------------

    def _code_to_session(self, code: str) -> WxSession:
        with self._borrow() as client:
            # A list of params keeps wechatpy from adding an access_token (fetching one first):
            # jscode2session needs the secret, not a token.
            params = [
                ("appid", client.appid),
                ("secret", client.secret),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ]
            result = _call(
                lambda: client.get("sns/jscode2session", params=params, api_base_url=client.base_url)
            )
        if not isinstance(result, dict) or not result.get("openid"):
            raise WeChatError(NETWORK_ERROR, "network: jscode2session answered without an openid")
        return WxSession(
            openid=result["openid"], session_key=result.get("session_key", ""), unionid=result.get("unionid")
        )

    async def code_to_session(self, code: str) -> WxSession:
        """wx.login code → openid, session_key, unionid (GET /sns/jscode2session)."""
        return await self._run(self._code_to_session, code)

    # -- subscribe messages ----------------------------------------------------------------------

    def _with_token(self, client: _Wechatpy, send: Callable[[str], T]) -> T:
        """send(token); on 40001/40014/42001 refresh the shared token once and retry once."""
        token = _call(lambda: client.access_token)
        try:
            return _call(lambda: send(token))
        except WeChatError as err:
            if err.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat_token_rejected", errcode=err.errcode)
            fresh = _call(lambda: client.refresh_token(stale=token))
            return _call(lambda: send(fresh))

    def _send_subscribe(self, body: dict[str, Any]) -> int | None:
        with self._borrow() as client:
            result = self._with_token(
                client,
                lambda token: client.post(
                    "message/subscribe/send", params={"access_token": token}, data=body
                ),
            )
        # wechatpy raised already on a non-zero errcode. WeChat documents the success answer as
        # {"errcode": 0, "errmsg": "ok"}; a msgid comes only on some answers and is never required.
        if not isinstance(result, dict) or result.get("errcode", 0) != 0:
            raise WeChatError(NETWORK_ERROR, "network: subscribe/send answered something that is not JSON")
        msgid = result.get("msgid")
        return int(msgid) if isinstance(msgid, (int, str)) and str(msgid).isdigit() else None

    async def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> int | None:
        """Send one subscribe message (POST /cgi-bin/message/subscribe/send); WeChat's msgid, None without one.

        ``data`` is ``{"thing1": {"value": "..."}}``; a bare value is wrapped as ``{"value": v}``.
        """
        if miniprogram_state not in MINIPROGRAM_STATES:
            raise ValueError(f"miniprogram_state must be one of {MINIPROGRAM_STATES}")
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: v if isinstance(v, dict) else {"value": v} for k, v in data.items()},
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        return await self._run(self._send_subscribe, body)

    # -- content security (msgSecCheck v2, mediaCheckAsync v2) -----------------------------------

    def _post_wxa(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._borrow() as client:
            result = self._with_token(
                client,
                lambda token: client.post(path, params={"access_token": token}, data=body, api_base_url=client.base_url),
            )
        if not isinstance(result, dict):
            raise WeChatError(NETWORK_ERROR, f"network: {path} answered something that is not JSON")
        return result

    async def msg_sec_check(self, openid: str, content: str, scene: int) -> dict[str, Any]:
        """POST /wxa/msg_sec_check (v2): ``{"trace_id", "result": {"suggest", "label"}, "detail"}``.

        wechatpy's ``check_text_security`` sends the v1 body, so the v2 body goes through its ``post``.
        """
        body = {"content": content, "version": 2, "scene": scene, "openid": openid}
        return await self._run(self._post_wxa, "wxa/msg_sec_check", body)

    async def media_check_async(self, openid: str, media_url: str, scene: int, media_type: int = 2) -> str:
        """POST /wxa/media_check_async (v2); returns the trace_id the verdict push will carry."""
        body = {"media_url": media_url, "media_type": media_type, "version": 2, "scene": scene, "openid": openid}
        result = await self._run(self._post_wxa, "wxa/media_check_async", body)
        if not result.get("trace_id"):
            raise WeChatError(NETWORK_ERROR, "network: media_check_async answered without a trace_id")
        return str(result["trace_id"])

    # -- access token ----------------------------------------------------------------------------

    def _access_token(self) -> str:
        with self._borrow() as client:
            return _call(lambda: client.access_token)

    async def access_token(self) -> str:
        """The access token shared by every process (fetched from WeChat only when Redis has none)."""
        return await self._run(self._access_token)

    def _invalidate(self) -> None:
        with self._borrow() as client:
            _call(lambda: self._storage.delete(client.access_token_key))
        with self._clients_lock:
            for each in self._clients:
                each._local = ("", 0.0)  # this process's copies go too (other processes' expire in LOCAL_TOKEN_S)

    async def invalidate_access_token(self) -> None:
        """Forget the cached token; the next call fetches a new one."""
        await self._run(self._invalidate)

    def close(self) -> None:
        """Stop the thread pool and close the HTTP sessions and the Redis connection."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client._http.close()
            self._clients.clear()
        self._redis.close()
