"""Helpers for credit tests: a fresh enterprise, its score, a department key."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.api import STAFF_PASSWORD, new_uscc, staff_token


async def enterprise(api, admin, kinds=("general_contractor",), district: int | None = 330302) -> dict[str, Any]:
    resp = await api.post("/api/v1/enterprises", json={
        "uscc": new_uscc(), "name": f"信用测试建设{uuid.uuid4().hex[:6]}有限公司", "kinds": list(kinds),
        "district_adcode": district}, headers=admin)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def credit(api, admin, enterprise_id: str) -> dict[str, Any]:
    resp = await api.get(f"/api/v1/credit/enterprises/{enterprise_id}", headers=admin)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def score(api, admin, enterprise_id: str) -> float:
    return (await credit(api, admin, enterprise_id))["status"]["score"]


async def manual(api, admin, enterprise_id: str, kind: str, points: int | None = None, **extra):
    body = {"enterprise_id": enterprise_id, "kind": kind, "reason": "现场检查发现问题，依规处理", **extra}
    if points is not None:
        body["points"] = points
    return await api.post("/api/v1/credit/events", json=body, headers=admin)


async def api_key(api, admin, scopes: list[str]) -> dict[str, str]:
    resp = await api.post("/api/v1/api-keys", json={"name": f"k{uuid.uuid4().hex[:6]}", "department": "市交通运输局",
                                                     "scopes": scopes}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"X-API-Key": resp.json()["key"]}


async def enterprise_user(api, admin, enterprise_id: str) -> dict[str, str]:
    username = f"ent_{uuid.uuid4().hex[:6]}"
    resp = await api.post("/api/v1/users", json={
        "role": "project_lead", "display_name": "企业负责人", "username": username, "password": STAFF_PASSWORD,
        "enterprise_id": enterprise_id}, headers=admin)
    assert resp.status_code == 201, resp.text
    return await staff_token(api, username)
