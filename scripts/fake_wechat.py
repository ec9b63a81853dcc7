"""A small fake of WeChat's server APIs for development and tests (loopback only).

    python scripts/fake_wechat.py --host 127.0.0.1 --port 8990

Login codes: ``"<openid>:<nonce>"`` signs in that openid; any other code maps to a stable openid
derived from a hash of the code. A code works once (then 40163); the code ``invalid`` gives 40029.
Like the real API, errors answer HTTP 200 with ``{"errcode": N, "errmsg": "..."}``.

Control API (for tests): ``GET /__fake__/requests?path=``, ``GET /__fake__/messages``,
``GET /__fake__/stats``, ``POST /__fake__/reset``, ``POST /__fake__/errors``
``{"path", "errcode", "times"}``, ``POST /__fake__/expire_token``, ``POST /__fake__/delay {"path", "ms"}``.
This module must not import ``backend``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import time
from collections import Counter, defaultdict, deque
from typing import Any

from litestar import Litestar, Request, get, post

APPID = "wx0000000000demo"
SECRET = "demo-wechat-secret"
MAX_RECORDED = 20_000

ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "high risk user",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit",
    47003: "argument invalid! data.thing1.value exceeds limit",
    -1: "system error",
}


class FakeState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.token: str | None = None
        self.expired: set[str] = set()
        self.used_codes: set[str] = set()
        self.errors: dict[str, deque[int]] = defaultdict(deque)
        self.delays: dict[str, float] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDED)
        self.messages: list[dict[str, Any]] = []
        self.stats: Counter[str] = Counter()
        self.msgid = 1000

    def new_token(self) -> str:
        self.token = secrets.token_hex(16)
        self.stats["token_fetches"] += 1
        return self.token


STATE = FakeState()


def _err(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}


async def _enter(request: Request, path: str, body: Any = None) -> dict[str, Any] | None:
    """Record the call, apply a configured delay, and return a queued error if there is one."""
    STATE.stats[path] += 1
    STATE.requests.append(
        {"method": request.method, "path": path, "query": dict(request.query_params), "json": body, "time": time.time()}
    )
    delay = STATE.delays.get(path)
    if delay:
        await asyncio.sleep(delay)
    queue = STATE.errors.get(path)
    if queue:
        return _err(queue.popleft())
    return None


def _check_app(appid: str | None, secret: str | None) -> dict[str, Any] | None:
    if appid != APPID:
        return _err(40013)
    if secret != SECRET:
        return _err(40125)
    return None


@get("/sns/jscode2session")
async def jscode2session(request: Request) -> dict[str, Any]:
    q = request.query_params
    if (failure := await _enter(request, "/sns/jscode2session")) is not None:
        return failure
    if (failure := _check_app(q.get("appid"), q.get("secret"))) is not None:
        return failure
    code = q.get("js_code") or ""
    if not code or code == "invalid":
        return _err(40029)
    if code in STATE.used_codes:
        return _err(40163)
    STATE.used_codes.add(code)
    openid = code.split(":", 1)[0] if ":" in code else "o" + hashlib.sha1(code.encode()).hexdigest()[:27]
    return {"openid": openid, "session_key": secrets.token_urlsafe(16), "unionid": f"u_{openid}"}


@get("/cgi-bin/token")
async def token(request: Request) -> dict[str, Any]:
    q = request.query_params
    if (failure := await _enter(request, "/cgi-bin/token")) is not None:
        return failure
    if (failure := _check_app(q.get("appid"), q.get("secret"))) is not None:
        return failure
    return {"access_token": STATE.new_token(), "expires_in": 7200}


@post("/cgi-bin/stable_token", status_code=200)
async def stable_token(request: Request) -> dict[str, Any]:
    body = await request.json()
    if (failure := await _enter(request, "/cgi-bin/stable_token", body)) is not None:
        return failure
    if (failure := _check_app(body.get("appid"), body.get("secret"))) is not None:
        return failure
    if body.get("force_refresh") or STATE.token is None or STATE.token in STATE.expired:
        STATE.new_token()
    return {"access_token": STATE.token, "expires_in": 7200}


def _bad_value(data: dict[str, Any]) -> bool:
    for key, item in data.items():
        if not isinstance(item, dict) or "value" not in item:
            return True
        value = str(item["value"])
        if key.startswith("thing") and len(value) > 20:
            return True
        if key.startswith(("character_string", "phrase")) and len(value) > 32:
            return True
    return False


@post("/cgi-bin/message/subscribe/send", status_code=200)
async def subscribe_send(request: Request) -> dict[str, Any]:
    body = await request.json()
    if (failure := await _enter(request, "/cgi-bin/message/subscribe/send", body)) is not None:
        return failure
    access_token = request.query_params.get("access_token")
    if access_token in STATE.expired:
        return _err(42001)
    if not access_token or access_token != STATE.token:
        return _err(40001)
    if not isinstance(body, dict) or not body.get("touser"):
        return _err(40003)
    if not body.get("template_id"):
        return _err(40037)
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
    return {**STATE.stats, "messages": len(STATE.messages)}


@post("/__fake__/reset", status_code=200)
async def reset() -> dict[str, str]:
    STATE.reset()
    return {"status": "ok"}


@post("/__fake__/errors", status_code=200)
async def queue_errors(request: Request) -> dict[str, Any]:
    body = await request.json()
    for _ in range(int(body.get("times", 1))):
        STATE.errors[body["path"]].append(int(body["errcode"]))
    return {"queued": {k: list(v) for k, v in STATE.errors.items()}}


@post("/__fake__/expire_token", status_code=200)
async def expire_token() -> dict[str, str]:
    if STATE.token:
        STATE.expired.add(STATE.token)
    return {"status": "ok"}


@post("/__fake__/delay", status_code=200)
async def delay(request: Request) -> dict[str, Any]:
    body = await request.json()
    STATE.delays[body["path"]] = float(body.get("ms", 0)) / 1000.0
    return {"delays": STATE.delays}


def create_app() -> Litestar:
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
