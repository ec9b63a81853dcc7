"""Refuse JSON bodies nested deeper than JSON_MAX_DEPTH before any decoder sees them (no RecursionError → 500)."""

from __future__ import annotations

import json

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import error_body

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def too_deep(body: bytes, max_depth: int) -> bool:
    """Whether arrays/objects nest deeper than max_depth (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            return b"json" in value.lower()
    return False


class JsonDepthMiddleware:
    """Buffers a JSON body (up to the body limit; larger ones are left to the limit's own 413) and checks depth."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings
        chunks: list[bytes] = []
        size, more, first_other = 0, True, None
        while more and size <= settings.MAX_BODY_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                first_other = message
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if first_other is None and size <= settings.MAX_BODY_BYTES and too_deep(body, settings.JSON_MAX_DEPTH):
            payload = json.dumps(error_body("JSON_TOO_DEEP", detail={"max_depth": settings.JSON_MAX_DEPTH}),
                                 ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if first_other is not None and not chunks:
                    return first_other
                return {"type": "http.request", "body": body, "more_body": more and first_other is None}
            if first_other is not None:
                return first_other
            return await receive()

        await self.app(scope, replay, send)
