"""WeChat's message push (消息推送) to this server: signature check, safe-mode decryption, event dispatch.

Documented in ../shared/domain/wechat.md ("Message push verification"): ``signature`` = sha1 of the
sorted ``[token, timestamp, nonce]``; the setup request is answered with its ``echostr``; in safe mode
(安全模式) the body carries ``Encrypt`` (AES-CBC with the EncodingAESKey, wechatpy's PrpCrypto) and
``msg_signature`` = sha1 of the sorted ``[token, timestamp, nonce, Encrypt]``. Events handled:
``wxa_media_check`` (a photo's verdict) and ``subscribe_msg_sent_event`` (a subscribe message's final
result, recorded on its delivery receipt). JSON data format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import structlog
from wechatpy.crypto import PrpCrypto

from backend.content_security import service
from backend.db import utcnow
from backend.errors import BadRequest, Forbidden
from backend.notifications.service import record_sent_event
from backend.settings import Settings

log = structlog.get_logger("zhijian.content_security.push")

MAX_SKEW_S = 300  # a push older than this is a replay


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def verify(settings: Settings, signature: str, timestamp: str, nonce: str) -> None:
    """The plain-mode signature (also sent in safe mode); Forbidden when it does not match or is stale."""
    if not (signature and timestamp and nonce) or not timestamp.isdigit():
        raise Forbidden("WECHAT_PUSH_SIGNATURE")
    if abs(time.time() - int(timestamp)) > MAX_SKEW_S:
        raise Forbidden("WECHAT_PUSH_SIGNATURE", detail="stale timestamp")
    if not hmac.compare_digest(_sha1(settings.WECHAT_PUSH_TOKEN, timestamp, nonce), signature):
        raise Forbidden("WECHAT_PUSH_SIGNATURE")


def echo(settings: Settings, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """The console's URL check: answer ``echostr`` when the signature is ours."""
    verify(settings, signature, timestamp, nonce)
    return echostr


def open_body(settings: Settings, body: bytes, query: dict[str, str]) -> dict[str, Any]:
    """Verify a push and return its event (decrypted in safe mode)."""
    verify(settings, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadRequest("WECHAT_PUSH_BODY") from exc
    if not isinstance(payload, dict):
        raise BadRequest("WECHAT_PUSH_BODY")
    if query.get("encrypt_type") == "aes" or "Encrypt" in payload:
        if not settings.WECHAT_PUSH_AES_KEY:
            raise BadRequest("WECHAT_PUSH_BODY", detail="safe mode push without an EncodingAESKey configured")
        encrypted = str(payload.get("Encrypt", ""))
        expected = _sha1(settings.WECHAT_PUSH_TOKEN, query.get("timestamp", ""), query.get("nonce", ""), encrypted)
        if not hmac.compare_digest(expected, query.get("msg_signature", "")):
            raise Forbidden("WECHAT_PUSH_SIGNATURE")
        try:
            key = base64.b64decode(settings.WECHAT_PUSH_AES_KEY + "=")  # the EncodingAESKey is base64 without "="
            plain = PrpCrypto(key).decrypt(encrypted, settings.WECHAT_APPID)
            payload = json.loads(plain)
        except Exception as exc:
            raise Forbidden("WECHAT_PUSH_SIGNATURE", detail="cannot decrypt") from exc
    elif settings.WECHAT_PUSH_AES_KEY:
        raise Forbidden("WECHAT_PUSH_SIGNATURE", detail="safe mode expects an encrypted body")
    return payload


async def handle(event: dict[str, Any]) -> str:
    """Apply one pushed event; returns what was done (for logs and tests)."""
    kind = event.get("Event")
    if kind == "wxa_media_check":
        status = await service.record_media_verdict(str(event.get("trace_id", "")), event.get("result") or {})
        return f"media_check:{status or 'ignored'}"
    if kind == "subscribe_msg_sent_event":
        items = event.get("List") or []
        items = items if isinstance(items, list) else [items]
        done = 0
        for item in items:
            done += await record_sent_event(
                str(item.get("MsgID", "")), str(item.get("ErrorStatus", "")), int(item.get("ErrorCode", 0) or 0), utcnow()
            )
        return f"sent_event:{done}"
    log.info("wechat_push_ignored", event=kind)
    return "ignored"
