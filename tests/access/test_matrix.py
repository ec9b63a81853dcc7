"""The generated matrix: every route of the OpenAPI document × one caller of every actor kind.

Denied → 401/403 in the error shape (never data); allowed → the route table lets it through (the service then
answers by relation: 2xx, or 403/404 for a resource outside the caller's reach); a list route an allowed caller
reaches without parameters → 2xx. A route missing from backend/access/routes.py fails with the entry to add.
"""

from __future__ import annotations

import uuid

import pytest

from backend.access import actors as A
from backend.access.policy import route_key
from backend.access.routes import ROUTES
from tests.access.world import callers

pytestmark = pytest.mark.asyncio(loop_scope="session")

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(m.upper(), path, op) for path, ops in spec["paths"].items() for m, op in ops.items() if m in METHODS]


def _concrete(path: str, op: dict, project_id: str) -> tuple[str, bool, dict]:
    """The path with placeholder values, whether the operation needs parameters at all, and the query: an optional
    project_id filter is the fixture project (parties list their own project's records)."""
    needs, query = False, {}
    for param in op.get("parameters", []):
        if param.get("in") == "query" and param["name"] == "project_id" and not param.get("required"):
            query["project_id"] = project_id
        if param.get("in") == "path":
            needs = True
            schema = param.get("schema", {})
            value = ("1" if schema.get("type") == "integer" else str(uuid.uuid4()) if schema.get("format") == "uuid"
                     else "x.json")
            path = path.replace("{" + param["name"] + "}", value)
        elif param.get("required"):
            needs = True
    return path, needs or "requestBody" in op, query


def _json(resp):
    try:
        return resp.json()
    except ValueError:
        return None


def _is_route_refusal(resp, rule) -> bool:
    if resp.status_code == 401:  # a public route's own credential (ticket, refresh token) is not the table's answer
        return A.ANONYMOUS not in rule.who
    if resp.status_code != 403:
        return False
    body = _json(resp)
    return isinstance(body, dict) and isinstance(body.get("detail"), dict) and "route" in body["detail"]


async def test_every_route_is_declared(api):
    spec = (await api.get("/schema/openapi.json")).json()
    missing = [route_key(m, p) for m, p, _ in _operations(spec) if route_key(m, p) not in ROUTES]
    assert not missing, (
        "Routes missing from the access policy. Add to ROUTES in backend/access/routes.py (and regenerate "
        "docs/ACCESS.md: python -m backend.access.docs > docs/ACCESS.md):\n"
        + "\n".join(f'    "{k}": R(<who: USERS | STAFF | PARTIES | ...>, "<what they reach, in words>"),' for k in missing))
    stale = set(ROUTES) - {route_key(m, p) for m, p, _ in _operations(spec)}
    assert not stale, f"entries in ROUTES for routes that no longer exist: {sorted(stale)}"


async def test_matrix_matches_the_table(api, admin):
    spec = (await api.get("/schema/openapi.json")).json()
    world = await callers(api, admin)
    project_id = (await api.get("/api/v1/projects", params={"q": "330302202603150101"}, headers=admin)).json()["items"][0]["id"]
    assert set(world) == set(A.ALL_KINDS)
    wrong: list[str] = []
    for method, path, op in _operations(spec):
        rule = ROUTES[route_key(method, path)]
        concrete, needs_params, query = _concrete(path, op, project_id)
        for kind, headers in world.items():
            body = {} if method in ("POST", "PUT", "PATCH") else None
            resp = await api.request(method, concrete, json=body, headers=headers, params=query)
            allowed = kind in rule.who or (kind.startswith(A.KEY_PREFIX) and A.ANY_KEY in rule.who)
            where = f"{kind:>24} {method} {path} → {resp.status_code} {resp.text[:120]}"
            assert resp.status_code < 500, where
            if allowed:
                if _is_route_refusal(resp, rule):
                    wrong.append("allowed but refused: " + where)
                elif method == "GET" and not needs_params and not 200 <= resp.status_code < 300 and resp.status_code != 400 and \
                        A.ANONYMOUS not in rule.who:  # public routes carry their own credential
                    wrong.append("allowed list route not 2xx: " + where)  # 400: a filter the service requires
            else:
                if resp.status_code not in (401, 403):
                    wrong.append("denied but answered: " + where)
                elif not (isinstance(_json(resp), dict) and set(_json(resp)) == {"code", "message", "detail"}):
                    wrong.append("denied without the error shape: " + where)
    assert not wrong, "\n".join(wrong)
