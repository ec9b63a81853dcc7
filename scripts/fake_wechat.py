"""A small fake of WeChat's server APIs for development and tests (loopback only).

    python scripts/fake_wechat.py --host 127.0.0.1 --port 8990

App credentials: appid ``wx0000000000demo``, secret ``demo-wechat-secret`` (the dev defaults of
backend/settings.py); a wrong appid answers 40013, a wrong secret 40125.

Login codes (``GET /sns/jscode2session``):
  * ``"<openid>:<nonce>"`` signs in that openid (e.g. ``demo-lead:1``; the nonce only makes the code new);
  * any other code maps to a stable openid derived from a hash of the code;
  * a code works once: its second use answers 40163 "code been used";
  * the code ``invalid`` (or an empty code) answers 40029.
Every successful login returns ``unionid`` = ``"u_" + openid``.

Access tokens: each ``GET /cgi-bin/token`` issues a new token and invalidates the previous one;
``POST /cgi-bin/stable_token`` returns the current token unless ``force_refresh`` (or none is valid).
``POST /cgi-bin/message/subscribe/send`` answers 40001 for an unknown or replaced token and 42001 for a
token expired by the control API; a ``thingN`` value over 20 characters answers 47003.
Like the real API, errors answer HTTP 200 with ``{"errcode": N, "errmsg": "..."}``.

Control API (for tests and the dev run):
  * ``GET /__fake__/requests?path=``   recorded calls: method, path, query, json, time
  * ``GET /__fake__/messages``         accepted subscribe messages (with their msgid)
  * ``GET /__fake__/stats``            ``token_fetches``, ``messages`` and one count per API path
  * ``POST /__fake__/reset``           forget used codes, records, messages, stats, queued errors and
                                       delays; the current token stays valid (as WeChat would keep it)
                                       unless the body is ``{"tokens": true}`` or it was expired;
                                       msgids keep counting up
  * ``POST /__fake__/errors``          ``{"path", "errcode", "times"}``: the next N calls to path fail
  * ``POST /__fake__/expire_token``    the current token now answers 42001
  * ``POST /__fake__/delay``           ``{"path", "ms"}``: answer that path after a delay (0 clears)

State lives in memory; handlers do no disk I/O. This module must not import ``backend``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from typing import Any

from litestar import Litestar, Request, get, post

APPID = "wx0000000000demo"
SECRET = "demo-wechat-secret"
TOKEN_TTL_S = 7200
MAX_RECORDED = 20_000
THING_MAX = 20
_BAD_JSON = object()  # a body that is not JSON: recorded as null, answered 47001

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "high risk user",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit",
    47001: "data format error",
    47003: "argument invalid! data.thing.value exceeds limit",
}
MINIPROGRAM_STATES = {"developer", "trial", "formal"}


class FakeState:
    """Everything the fake remembers, in memory."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expired: set[str] = set()
        self.msgid = 1000  # never reset: msgids stay unique for the life of the process
        self.reset()

    def reset(self, tokens: bool = False) -> None:
        # Processes under test keep the token cached in Redis: forgetting it here would make their
        # next call fail once with 40001 (and retry), which a test counting calls would not expect.
        if tokens or self.token in self.expired:
            self.token = None
        self.expired = set()
        self.used_codes: set[str] = set()
        self.errors: dict[str, deque[int]] = defaultdict(deque)
        self.delays: dict[str, float] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDED)
        self.messages: list[dict[str, Any]] = []
        self.stats: Counter[str] = Counter()

    def new_token(self) -> str:
        """Issue a token; the previous one stops working (it was replaced, not expired: 40001)."""
        self.token = secrets.token_hex(16)
        self.stats["token_fetches"] += 1
        return self.token


STATE = FakeState()


def _err(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}


async def _json_body(request: Request) -> Any:
    # wechatpy posts JSON without a Content-Type header: decode the raw body ourselves.
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return _BAD_JSON


async def _enter(request: Request, path: str, body: Any = None) -> dict[str, Any] | None:
    """Record the call, apply a configured delay, and return a queued error if there is one."""
    STATE.stats[path] += 1
    STATE.requests.append(
        {
            "method": request.method,
            "path": path,
            "query": dict(request.query_params),
            "json": None if body is _BAD_JSON else body,
            "time": time.time(),
        }
    )
    delay = STATE.delays.get(path)
    if delay:
        await asyncio.sleep(delay)
    queue = STATE.errors.get(path)
    if queue:
        return _err(queue.popleft())
    if body is _BAD_JSON:
        return _err(47001)
    return None


def _check_app(appid: Any, secret: Any) -> dict[str, Any] | None:
    if appid != APPID:
        return _err(40013)
    if secret != SECRET:
        return _err(40125)
    return None


def _openid_for(code: str) -> str:
    if ":" in code:
        return code.split(":", 1)[0]
    return "o" + hashlib.sha256(code.encode()).hexdigest()[:27]


@get("/sns/jscode2session")
async def jscode2session(request: Request) -> dict[str, Any]:
    q = request.query_params
    if (failure := await _enter(request, "/sns/jscode2session")) is not None:
        return failure
    if (failure := _check_app(q.get("appid"), q.get("secret"))) is not None:
        return failure
    if q.get("grant_type") != "authorization_code":
        return _err(40002)
    code = q.get("js_code") or ""
    if not code or code == "invalid" or not _openid_for(code):
        return _err(40029)
    if code in STATE.used_codes:
        return _err(40163)
    STATE.used_codes.add(code)
    openid = _openid_for(code)
    return {"openid": openid, "session_key": secrets.token_urlsafe(16), "unionid": f"u_{openid}"}


@get("/cgi-bin/token")
async def token(request: Request) -> dict[str, Any]:
    q = request.query_params
    if (failure := await _enter(request, "/cgi-bin/token")) is not None:
        return failure
    if (failure := _check_app(q.get("appid"), q.get("secret"))) is not None:
        return failure
    if q.get("grant_type") != "client_credential":
        return _err(40002)
    return {"access_token": STATE.new_token(), "expires_in": TOKEN_TTL_S}


@post("/cgi-bin/stable_token", status_code=200)
async def stable_token(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if (failure := await _enter(request, "/cgi-bin/stable_token", body)) is not None:
        return failure
    if not isinstance(body, dict):
        return _err(47001)
    if (failure := _check_app(body.get("appid"), body.get("secret"))) is not None:
        return failure
    if body.get("grant_type") != "client_credential":
        return _err(40002)
    if body.get("force_refresh") or STATE.token is None or STATE.token in STATE.expired:
        STATE.new_token()
    return {"access_token": STATE.token, "expires_in": TOKEN_TTL_S}


def _bad_value(data: dict[str, Any]) -> bool:
    """WeChat's per-type value rules, the ones that matter to us (thing ≤ 20 characters)."""
    for key, item in data.items():
        if not isinstance(item, dict) or "value" not in item:
            return True
        value = str(item["value"])
        if key.startswith("thing") and len(value) > THING_MAX:
            return True
        if key.startswith(("character_string", "phrase")) and len(value) > 32:
            return True
    return False


@post("/cgi-bin/message/subscribe/send", status_code=200)
async def subscribe_send(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if (failure := await _enter(request, "/cgi-bin/message/subscribe/send", body)) is not None:
        return failure
    access_token = request.query_params.get("access_token")
    if access_token in STATE.expired:
        return _err(42001)
    if not access_token or access_token != STATE.token:
        return _err(40001)
    if not isinstance(body, dict):
        return _err(47001)
    if not body.get("touser"):
        return _err(40003)
    if not body.get("template_id"):
        return _err(40037)
    if body.get("miniprogram_state", "formal") not in MINIPROGRAM_STATES:
        return _err(47003)
    if not isinstance(body.get("data"), dict) or _bad_value(body["data"]):
        return _err(47003)
    STATE.msgid += 1
    STATE.messages.append({**body, "msgid": STATE.msgid, "time": time.time()})
    return {"errcode": 0, "errmsg": "ok", "msgid": STATE.msgid}


@get("/__fake__/requests")
async def recorded(path: str | None = None) -> list[dict[str, Any]]:
    return [r for r in STATE.requests if path is None or r["path"] == path]


@get("/__fake__/messages")
async def messages() -> list[dict[str, Any]]:
    return STATE.messages


@get("/__fake__/stats")
async def stats() -> dict[str, int]:
    return {"token_fetches": 0, **STATE.stats, "messages": len(STATE.messages)}


@post("/__fake__/reset", status_code=200)
async def reset(request: Request) -> dict[str, str]:
    body = await _json_body(request)
    STATE.reset(tokens=isinstance(body, dict) and bool(body.get("tokens")))
    return {"status": "ok"}


@post("/__fake__/errors", status_code=200)
async def queue_errors(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict) or not str(body.get("path", "")).startswith("/"):
        return {"errcode": 47001, "errmsg": 'expected {"path": "/...", "errcode": N, "times": N}'}
    for _ in range(int(body.get("times", 1))):
        STATE.errors[body["path"]].append(int(body["errcode"]))
    return {"queued": {k: list(v) for k, v in STATE.errors.items() if v}}


@post("/__fake__/expire_token", status_code=200)
async def expire_token() -> dict[str, Any]:
    if STATE.token:
        STATE.expired.add(STATE.token)
    return {"status": "ok", "expired": STATE.token is not None}


@post("/__fake__/delay", status_code=200)
async def delay(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict) or "path" not in body:
        return {"errcode": 47001, "errmsg": 'expected {"path": "/...", "ms": N}'}
    ms = float(body.get("ms", 0))
    if ms > 0:
        STATE.delays[body["path"]] = ms / 1000.0
    else:
        STATE.delays.pop(body["path"], None)
    return {"delays": STATE.delays}


def create_app() -> Litestar:
    """The fake as an ASGI app (state is module-global: one fake per process)."""
    return Litestar(
        route_handlers=[
            jscode2session,
            token,
            stable_token,
            subscribe_send,
            recorded,
            messages,
            stats,
            reset,
            queue_errors,
            expire_token,
            delay,
        ],
        openapi_config=None,
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8990)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
