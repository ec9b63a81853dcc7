"""WeChat server APIs through wechatpy, pointed at ZHIJIAN_WECHAT_API_BASE_URL.

wechatpy is synchronous (requests): every call runs in this client's thread pool, one wechatpy client
per thread. The access token lives in Redis (wechatpy's RedisStorage) and is refreshed under a Redis
lock, so every process shares one token: each fetch from WeChat invalidates the previous one.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
import requests
import structlog
from wechatpy import WeChatClient as _WechatpyClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from backend.settings import Settings

log = structlog.get_logger("zhijian.wechat")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
NETWORK_ERROR = -2
_TOKEN_MARGIN_S = 300


class WeChatError(Exception):
    """WeChat answered an errcode (or the network failed: errcode -2)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True, slots=True)
class WxSession:
    openid: str
    session_key: str
    unionid: str | None


class _Wechatpy(_WechatpyClient):
    """wechatpy with its three hard-coded base URLs replaced, and a shared, locked token refresh."""

    def __init__(self, settings: Settings, storage: RedisStorage, lock_redis: redis.Redis) -> None:
        super().__init__(
            settings.WECHAT_APPID, settings.WECHAT_SECRET, session=storage, timeout=(3, 5), auto_retry=False
        )
        self.base = settings.WECHAT_API_BASE_URL.rstrip("/") + "/"
        self.API_BASE_URL = self.base + "cgi-bin/"
        self.wxa.API_BASE_URL = self.base
        self._lock_redis = lock_redis

    def fetch_access_token(self) -> dict[str, Any]:
        result = self._fetch_access_token(
            url=self.base + "cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        # Keep it a little shorter than WeChat does, so nobody uses a token in its last minutes.
        ttl = max(int(result.get("expires_in", 7200)) - _TOKEN_MARGIN_S, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        return result

    @property
    def access_token(self) -> str:
        token = self.session.get(self.access_token_key)
        if token:
            return token
        return self.refresh_token(stale=None)

    def refresh_token(self, stale: str | None) -> str:
        """Fetch a new token unless another process already replaced ``stale``."""
        with self._lock_redis.lock(f"wechatpy:{self.appid}:token-lock", timeout=15, blocking_timeout=15):
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            self.fetch_access_token()
            return self.session.get(self.access_token_key)


class WeChatClient:
    """Async facade: code2session, subscribe messages, the shared access token."""

    def __init__(self, settings: Settings, max_threads: int = 16) -> None:
        self._settings = settings
        self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=3)
        self._storage = RedisStorage(self._redis, prefix="wechatpy")
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="wechat")

    def _client(self) -> _Wechatpy:
        client = getattr(self._local, "client", None)
        if client is None:
            client = _Wechatpy(self._settings, self._storage, self._redis)
            self._local.client = client
        return client

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @staticmethod
    def _call(fn: Any) -> Any:
        try:
            return fn()
        except WeChatClientException as exc:
            if exc.errcode is None:
                status = getattr(exc.response, "status_code", "?")
                raise WeChatError(NETWORK_ERROR, f"http {status}") from exc
            raise WeChatError(int(exc.errcode), str(exc.errmsg)) from exc
        except requests.RequestException as exc:
            raise WeChatError(NETWORK_ERROR, f"network: {type(exc).__name__}") from exc

    def _with_token_retry(self, fn: Any) -> Any:
        """Run fn(client, token); on an invalid/expired token refresh once and retry once."""
        client = self._client()
        token = self._call(lambda: client.access_token)
        try:
            return self._call(lambda: fn(client, token))
        except WeChatError as err:
            if err.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat_token_refresh", errcode=err.errcode)
            fresh = self._call(lambda: client.refresh_token(stale=token))
            return self._call(lambda: fn(client, fresh))

    def _code_to_session(self, code: str) -> WxSession:
        client = self._client()
        # A list of params stops wechatpy from adding (and first fetching) an access token.
        params = [
            ("appid", client.appid),
            ("secret", client.secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]
        result = self._call(lambda: client.get("sns/jscode2session", params=params, api_base_url=client.base))
        if not isinstance(result, dict) or "openid" not in result:
            raise WeChatError(NETWORK_ERROR, "jscode2session: no openid in answer")
        return WxSession(
            openid=result["openid"], session_key=result.get("session_key", ""), unionid=result.get("unionid")
        )

    async def code_to_session(self, code: str) -> WxSession:
        """wx.login code → openid (session_key is returned to the caller, never stored or logged)."""
        return await self._run(self._code_to_session, code)

    def _send_subscribe(self, body: dict[str, Any]) -> int:
        def send(client: _Wechatpy, token: str) -> Any:
            return client.post("message/subscribe/send", params={"access_token": token}, data=body)

        result = self._with_token_retry(send)
        return int(result.get("msgid", 0)) if isinstance(result, dict) else 0

    async def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> int:
        """POST /cgi-bin/message/subscribe/send; returns WeChat's msgid."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        return await self._run(self._send_subscribe, body)

    async def access_token(self) -> str:
        client = self._client()
        return await self._run(lambda: self._call(lambda: client.access_token))

    async def invalidate_access_token(self) -> None:
        key = self._client().access_token_key
        await self._run(self._storage.delete, key)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._redis.close()
