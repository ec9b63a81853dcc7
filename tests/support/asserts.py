"""Assertions shared by the API tests."""

from __future__ import annotations

import httpx


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    """The one error shape: status, stable code, a zh-CN message, and a detail key."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    return body
