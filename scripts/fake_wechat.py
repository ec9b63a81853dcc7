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
Like the real API, errors answer HTTP 200 with ``{"errcode": N, "errmsg": "..."}``.

Strict: ``POST /cgi-bin/message/subscribe/send`` enforces WeChat's documented rules, read from
``backend/clients/wechat_rules.py`` (docs/WECHAT_RULES.md): 40001 / 42001 token, 40003 an openid that
never signed in nor tapped, 40037 a template not registered, 41030 a page not in app.json, 47003
naming the key (``argument invalid! data.time4.value``) for a value that breaks its type or a missing /
extra keyword, 43101 unless the user has an unused acceptance. Success answers with a msgid, or
without one (the documented ``{"errcode":0,"errmsg":"ok"}``) when told to. ``/wxa/msg_sec_check`` and
``/wxa/media_check_async`` (v2) check content; media verdicts and ``subscribe_msg_sent_event`` are
pushed to the configured push URL (signed; encrypted in safe mode).

Control API (for tests and the dev run):
  * ``GET /__fake__/requests?path=``   recorded calls: method, path, query, json, time
  * ``GET /__fake__/messages``         accepted subscribe messages (with their msgid)
  * ``GET /__fake__/stats``            ``token_fetches``, ``messages`` and one count per API path
  * ``POST /__fake__/reset``           forget used codes, records, messages, stats, queued errors and
                                       delays; the current token stays valid (as WeChat would keep it)
                                       unless the body is ``{"tokens": true}`` or it was expired;
                                       msgids keep counting up; acceptances, refusals and settings stay
  * ``POST /__fake__/errors``          ``{"path", "errcode", "times"}``: the next N calls to path fail
                                       (errcode 0: succeed without a msgid)
  * ``POST /__fake__/expire_token``    the current token now answers 42001
  * ``POST /__fake__/delay``           ``{"path", "ms"}``: answer that path after a delay (0 clears)
  * ``POST /__fake__/subscribe``       the user's tap in wx.requestSubscribeMessage
  * ``POST /__fake__/app``             registered templates (id → keywords) and app.json pages
  * ``POST /__fake__/push``            message-push URL, Token, EncodingAESKey, sent events on/off
  * ``POST /__fake__/verdicts``        content-security verdicts by marker or openid
  * ``POST /__fake__/msgid``           ``{"omit": true}``: every success without a msgid
  * ``POST /__fake__/expect``          a refusal a test provokes on purpose
  * ``GET /__fake__/refusals``         every refusal of a send or check (``asked`` or not)
  * ``GET /__fake__/pushed``           pushed events with the HTTP status they got

State lives in memory; handlers do no disk I/O. Of ``backend`` it imports only the rules module
(standard library only) and, for its default registration, the template table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import struct
import sys
import time
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from litestar import Litestar, Request, get, post

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backend.clients import wechat_rules as rules

APPID = "wx0000000000demo"
SECRET = "demo-wechat-secret"
TOKEN_TTL_S = 7200
MAX_RECORDED = 20_000
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
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    47001: "data format error",
    47003: "argument invalid!",
    **{code: e.errmsg for code, e in rules.ERROR_CODES.items()},
}
#: the send-like APIs whose refusals the test run audits (a refusal nobody asked for is a defect)
AUDITED = ("/cgi-bin/message/subscribe/send", "/wxa/msg_sec_check", "/wxa/media_check_async")
#: token refusals are WeChat's token protocol (every fetch replaces the token), recovered by the client
TOKEN_PROTOCOL = {40001, 42001}


def _default_app() -> tuple[dict[str, set[str]], set[str]]:
    """The mini-program as registered with WeChat: its subscribe templates (id → keywords) and app.json pages.

    Taken from the backend's template table, as a deployment would register them in the WeChat
    console; ``POST /__fake__/app`` replaces both.
    """
    try:
        from backend.notifications.templates import TEMPLATES
    except Exception:  # noqa: BLE001 - the fake runs without the backend too: then nothing is registered
        return {}, set()
    templates = {t.wechat_template_id: set(t.fields) for t in TEMPLATES.values()}
    pages = {rules.page_path(t.page) for t in TEMPLATES.values()}
    return templates, pages


class FakeState:
    """Everything the fake remembers, in memory."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.omit_once = False
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
        self.omit_msgid = False
        if not hasattr(self, "refusals"):  # survive resets: the session-end audit reads them
            self.refusals: list[dict[str, Any]] = []
            self.expected: Counter[int] = Counter()
            self.openids: set[str] = set()
            self.acceptances: Counter[tuple[str, str]] = Counter()  # (openid, template_id) → unused one-time
            self.long_term: dict[tuple[str, str], str] = {}  # (openid, template_id) → accept | reject | ban
            self.templates, self.pages = _default_app()
            self.push: dict[str, Any] = {}
            self.verdicts: dict[str, str] = {}  # marker in content → suggest (pass | review | risky)
            self.traces: dict[str, dict[str, Any]] = {}
            self.pushed: list[dict[str, Any]] = []

    def new_token(self) -> str:
        """Issue a token; the previous one stops working (it was replaced, not expired: 40001)."""
        self.token = secrets.token_hex(16)
        self.stats["token_fetches"] += 1
        return self.token


STATE = FakeState()


def _err(code: int, errmsg: str | None = None) -> dict[str, Any]:
    return {"errcode": code, "errmsg": errmsg or ERRMSG.get(code, "error")}


def _refuse(path: str, code: int, errmsg: str | None = None, *, asked: bool = False, body: Any = None) -> dict[str, Any]:
    """Answer an errcode; on an audited path remember the refusal (asked: a test queued or expected it)."""
    answer = _err(code, errmsg)
    if path in AUDITED and code not in TOKEN_PROTOCOL:
        if not asked and STATE.expected[code] > 0:
            STATE.expected[code] -= 1
            asked = True
        touser = body.get("touser") if isinstance(body, dict) else None
        STATE.refusals.append({"path": path, "errcode": code, "errmsg": answer["errmsg"], "asked": asked,
                               "touser": touser, "time": time.time()})
    return answer


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
        code = queue.popleft()
        if code == 0:  # "succeed without a msgid" queued for this one call
            STATE.omit_once = True
            return None
        return _refuse(path, code, asked=True, body=body)
    if body is _BAD_JSON:
        return _refuse(path, 47001, body=None)
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
    STATE.openids.add(openid)
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


def _spend_acceptance(openid: str, template_id: str) -> bool:
    """Only an acceptance the user gave (wx.requestSubscribeMessage) and not yet used may be spent."""
    long_term = STATE.long_term.get((openid, template_id))
    if long_term is not None:
        return long_term == "accept"
    if STATE.acceptances[(openid, template_id)] > 0:
        STATE.acceptances[(openid, template_id)] -= 1
        return True
    return False


def _check_token(request: Request) -> int | None:
    access_token = request.query_params.get("access_token")
    if access_token in STATE.expired:
        return 42001
    if not access_token or access_token != STATE.token:
        return 40001
    return None


@post("/cgi-bin/message/subscribe/send", status_code=200)
async def subscribe_send(request: Request) -> dict[str, Any]:
    """subscribeMessage.send, checked in WeChat's order: token, body, openid, template, page, state, data, quota."""
    path = "/cgi-bin/message/subscribe/send"
    body = await _json_body(request)
    STATE.omit_once = False
    if (failure := await _enter(request, path, body)) is not None:
        return failure
    if (code := _check_token(request)) is not None:
        return _refuse(path, code, body=body)
    if not isinstance(body, dict):
        return _refuse(path, 47001)
    touser, template_id = body.get("touser"), body.get("template_id")
    if not isinstance(touser, str) or touser not in STATE.openids:
        return _refuse(path, 40003, body=body)
    if template_id not in STATE.templates:
        return _refuse(path, 40037, body=body)
    page = body.get("page", "")
    if not isinstance(page, str) or not rules.page_ok(page, STATE.pages):
        return _refuse(path, 41030, body=body)
    if body.get("miniprogram_state", "formal") not in rules.MINIPROGRAM_STATES:
        return _refuse(path, 47003, "argument invalid! miniprogram_state", body=body)
    if body.get("lang", "zh_CN") not in rules.LANGS:
        return _refuse(path, 47003, "argument invalid! lang", body=body)
    data = body.get("data")
    bad = rules.check_data(data)
    if bad is None and isinstance(data, dict) and set(data) != STATE.templates[template_id]:
        # every keyword of the template must be filled, and only those
        bad = min(set(data) ^ STATE.templates[template_id])
    if bad is not None:
        return _refuse(path, 47003, rules.errmsg_47003(bad), body=body)
    if not _spend_acceptance(touser, template_id):
        return _refuse(path, 43101, body=body)
    STATE.msgid += 1
    STATE.messages.append({**body, "msgid": STATE.msgid, "time": time.time()})
    if STATE.push.get("sent_events"):
        asyncio.get_running_loop().create_task(_push_sent_event(touser, template_id, STATE.msgid))
    if STATE.omit_msgid or STATE.omit_once:
        return {"errcode": 0, "errmsg": "ok"}  # the documented success answer has no msgid
    return {"errcode": 0, "errmsg": "ok", "msgid": STATE.msgid}


# --- content security (msgSecCheck v2, mediaCheckAsync v2) and message push -----------------------


def _verdict(text: str, openid: str = "") -> str:
    """The configured verdict for a text or media URL containing a marker, or for a marked openid."""
    for marker, suggest in STATE.verdicts.items():
        if marker and (marker in text or marker == openid):
            return suggest
    return "pass"


_LABEL = {"pass": 100, "review": 20001, "risky": 20001}  # 100 normal, 20001 时政 (one documented label)


def _result(suggest: str) -> dict[str, Any]:
    return {"suggest": suggest, "label": _LABEL[suggest]}


@post("/wxa/msg_sec_check", status_code=200)
async def msg_sec_check(request: Request) -> dict[str, Any]:
    """msgSecCheck v2: synchronous verdict on a text (content ≤ 2500 characters, scene 1..4, openid)."""
    path = "/wxa/msg_sec_check"
    body = await _json_body(request)
    if (failure := await _enter(request, path, body)) is not None:
        return failure
    if (code := _check_token(request)) is not None:
        return _refuse(path, code, body=body)
    if not isinstance(body, dict):
        return _refuse(path, 47001)
    if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
        return _refuse(path, 47001, "argument invalid! version/scene", body=body)
    if body.get("openid") not in STATE.openids:
        return _refuse(path, 40003, body=body)
    content = body.get("content")
    if not isinstance(content, str) or not content or len(content) > 2500:
        return _refuse(path, 47001, "argument invalid! content", body=body)
    suggest = _verdict(content, body["openid"])
    trace_id = secrets.token_hex(12)
    return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id, "result": _result(suggest),
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": _LABEL[suggest]}]}


@post("/wxa/media_check_async", status_code=200)
async def media_check_async(request: Request) -> dict[str, Any]:
    """mediaCheckAsync v2: accept a media_url now, push the verdict later as a wxa_media_check event."""
    path = "/wxa/media_check_async"
    body = await _json_body(request)
    if (failure := await _enter(request, path, body)) is not None:
        return failure
    if (code := _check_token(request)) is not None:
        return _refuse(path, code, body=body)
    if not isinstance(body, dict):
        return _refuse(path, 47001)
    if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4) or body.get("media_type") not in (1, 2):
        return _refuse(path, 47001, "argument invalid! version/scene/media_type", body=body)
    if body.get("openid") not in STATE.openids:
        return _refuse(path, 40003, body=body)
    url = body.get("media_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _refuse(path, 47001, "argument invalid! media_url", body=body)
    trace_id = secrets.token_hex(12)
    STATE.traces[trace_id] = {"media_url": url, "openid": body["openid"]}
    asyncio.get_running_loop().create_task(_check_media(trace_id, url, body["openid"]))
    return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}


async def _check_media(trace_id: str, url: str, openid: str) -> None:
    """Download the media (WeChat requires a downloadable URL) and push the verdict."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.get(url)
        ok = resp.status_code == 200 and resp.content
        suggest = _verdict(url, openid) if ok else "review"
        errcode = 0 if ok else 40001 if resp.status_code in (401, 403) else -1
    except httpx.HTTPError:
        suggest, errcode = "review", -1
    event = {
        "ToUserName": "gh_fake", "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "event",
        "Event": "wxa_media_check", "appid": APPID, "trace_id": trace_id, "version": 2,
        "detail": [{"strategy": "content_model", "errcode": errcode, "suggest": suggest, "label": _LABEL[suggest]}],
        "errcode": 0, "errmsg": "ok", "result": _result(suggest),
    }
    await _push(event)


async def _push_sent_event(openid: str, template_id: str, msgid: int) -> None:
    event = {
        "ToUserName": "gh_fake", "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "event",
        "Event": "subscribe_msg_sent_event",
        "List": {"TemplateId": template_id, "MsgID": str(msgid), "ErrorCode": 0, "ErrorStatus": "success"},
    }
    await _push(event)


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _encrypt(aes_key: str, plain: str) -> str:
    """WeChat's safe mode: AES-256-CBC, key = base64(EncodingAESKey + "="), iv = key[:16], PKCS#7 to 32."""
    key = base64.b64decode(aes_key + "=")
    raw = plain.encode()
    data = os.urandom(16) + struct.pack(">I", len(raw)) + raw + APPID.encode()
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


async def _push(event: dict[str, Any]) -> None:
    """POST an event to the configured message-push URL, signed (and encrypted in safe mode)."""
    conf = STATE.push
    record = {"event": event, "status": None, "time": time.time()}
    STATE.pushed.append(record)
    if not conf.get("url"):
        return
    ts, nonce = str(int(time.time())), secrets.token_hex(5)
    params = {"signature": _sha1(conf["token"], ts, nonce), "timestamp": ts, "nonce": nonce}
    body: dict[str, Any] = event
    if conf.get("aes_key"):
        encrypted = _encrypt(conf["aes_key"], json.dumps(event, ensure_ascii=False))
        body = {"ToUserName": event["ToUserName"], "Encrypt": encrypted}
        params.update(encrypt_type="aes", msg_signature=_sha1(conf["token"], ts, nonce, encrypted))
    for attempt in range(3):  # WeChat retries a push that is not answered in 5 s, three times
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                resp = await http.post(conf["url"], params=params, json=body)
            record["status"] = resp.status_code
            if resp.status_code == 200:
                return
        except httpx.HTTPError as exc:
            record["status"] = type(exc).__name__
        await asyncio.sleep(0.2 * (attempt + 1))


# --- control API ------------------------------------------------------------------------------------


@post("/__fake__/subscribe", status_code=200)
async def subscribe_tap(request: Request) -> dict[str, Any]:
    """The user's tap in wx.requestSubscribeMessage: ``{"openid", "results": {template_id: accept|reject|ban},
    "kind": one_time|long_term}``. Each one-time accept allows exactly one message."""
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("openid"), str) or not isinstance(body.get("results"), dict):
        return {"errcode": 47001, "errmsg": 'expected {"openid", "results": {template_id: "accept"}}'}
    openid, kind = body["openid"], body.get("kind", "one_time")
    unknown = sorted(set(body["results"]) - set(STATE.templates))
    if unknown:
        return {"errcode": 40037, "errmsg": f"unknown template ids {unknown}"}
    STATE.openids.add(openid)
    for template_id, result in body["results"].items():
        if kind == "long_term":
            STATE.long_term[(openid, template_id)] = result
        elif result == "accept":
            STATE.acceptances[(openid, template_id)] += 1
        elif result == "ban":
            STATE.acceptances[(openid, template_id)] = 0
    return {"unused": {t: STATE.acceptances[(openid, t)] for t in body["results"]}}


@post("/__fake__/app", status_code=200)
async def configure_app(request: Request) -> dict[str, Any]:
    """Register the mini-program: ``{"templates": {id: [keywords]}, "pages": [...]}`` (either may be left out)."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        return {"errcode": 47001, "errmsg": 'expected {"templates": {...}, "pages": [...]}'}
    if "templates" in body:
        STATE.templates = {k: set(v) for k, v in body["templates"].items()}
    if "pages" in body:
        STATE.pages = set(body["pages"])
    return {"templates": {k: sorted(v) for k, v in STATE.templates.items()}, "pages": sorted(STATE.pages)}


@post("/__fake__/push", status_code=200)
async def configure_push(request: Request) -> dict[str, Any]:
    """The console's message-push settings: ``{"url", "token", "aes_key" (safe mode when set), "sent_events"}``."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        return {"errcode": 47001, "errmsg": 'expected {"url", "token", "aes_key"}'}
    STATE.push = {k: body.get(k) for k in ("url", "token", "aes_key", "sent_events")}
    return {"push": {**STATE.push, "aes_key": bool(STATE.push.get("aes_key"))}}


@post("/__fake__/verdicts", status_code=200)
async def configure_verdicts(request: Request) -> dict[str, Any]:
    """``{marker: pass|review|risky}``: a text or media URL containing the marker, or the openid equal to
    it, gets that verdict."""
    body = await _json_body(request)
    if not isinstance(body, dict) or any(v not in ("pass", "review", "risky") for v in body.values()):
        return {"errcode": 47001, "errmsg": 'expected {"marker": "risky"}'}
    STATE.verdicts.update(body)
    return {"verdicts": STATE.verdicts}


@get("/__fake__/pushed")
async def pushed() -> list[dict[str, Any]]:
    return STATE.pushed


@post("/__fake__/msgid", status_code=200)
async def configure_msgid(request: Request) -> dict[str, Any]:
    """``{"omit": true}``: answer every successful send with the documented ``{"errcode":0,"errmsg":"ok"}``."""
    body = await _json_body(request)
    STATE.omit_msgid = isinstance(body, dict) and bool(body.get("omit"))
    return {"omit": STATE.omit_msgid}


@post("/__fake__/expect", status_code=200)
async def expect_refusals(request: Request) -> dict[str, Any]:
    """``{"errcode", "times"}``: the next N refusals with that errcode were asked for by the test."""
    body = await _json_body(request)
    if not isinstance(body, dict) or "errcode" not in body:
        return {"errcode": 47001, "errmsg": 'expected {"errcode": N, "times": N}'}
    STATE.expected[int(body["errcode"])] += int(body.get("times", 1))
    return {"expected": dict(STATE.expected)}


@get("/__fake__/refusals")
async def refusals() -> list[dict[str, Any]]:
    """Every refusal of a send or check since the fake started (resets keep them)."""
    return STATE.refusals


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
            msg_sec_check,
            media_check_async,
            subscribe_tap,
            configure_app,
            configure_push,
            configure_verdicts,
            pushed,
            configure_msgid,
            expect_refusals,
            refusals,
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
