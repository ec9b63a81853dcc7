"""Every route outside a short public list refuses an anonymous caller with AUTH_REQUIRED (401)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.asyncio

# Public on purpose: health, docs, metrics, sign-in flows, Open311 discovery (its own api_key rules),
# WeChat's message push (WeChat's signature instead of a token: refused with 403, checked below), the public
# credit lists (公示, issue 19: nothing personal).
PUBLIC = re.compile(
    r"^/(healthz|readyz|metrics|schema.*|api/v1/auth/(login|refresh|logout)|mp/v1/auth/(login|bind|refresh|logout)"
    r"|open311/v2/.*|wechat/push|public/credit/lists(\.json)?)$"
)


async def test_wechat_push_without_a_signature_is_refused(api):
    for method in ("GET", "POST"):
        resp = await api.request(method, "/wechat/push", json={} if method == "POST" else None)
        assert resp.status_code == 403 and resp.json()["code"] == "WECHAT_PUSH_SIGNATURE", resp.text


async def test_anonymous_callers_are_refused_everywhere_else(api):
    spec = (await api.get("/schema/openapi.json")).json()
    checked = 0
    for path, methods in spec["paths"].items():
        if PUBLIC.match(path):
            continue
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            concrete = path
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    schema = param.get("schema", {})
                    value = "1" if schema.get("type") == "integer" else (
                        "00000000-0000-0000-0000-000000000001" if schema.get("format") == "uuid" else "abc")
                    concrete = concrete.replace("{" + param["name"] + "}", value)
            resp = await api.request(method.upper(), concrete, json={} if method != "get" else None)
            assert resp.status_code == 401, (method, path, resp.status_code, resp.text[:200])
            assert resp.json()["code"] == "AUTH_REQUIRED"
            checked += 1
    assert checked > 60


async def test_api_keys_cannot_reach_user_routes(api, admin):
    key = (await api.post("/api/v1/api-keys", json={"name": "x", "department": "y", "scopes": ["projects:read"]}, headers=admin)).json()["key"]
    for path in ("/api/v1/users", "/api/v1/projects", "/api/v1/complaints", "/mp/v1/inbox", "/mp/v1/complaints"):
        resp = await api.get(path, headers={"X-API-Key": key})
        assert resp.status_code == 403, (path, resp.text)
