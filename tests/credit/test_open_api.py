"""The cross-department API: scoped keys, status by credit code, bulk check, every query audited, rate limit."""

from __future__ import annotations

import pytest

from backend.credit.tables import CreditAudit
from tests.credit.helpers import api_key, enterprise, manual
from tests.support.api import new_uscc, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def test_a_department_key_sees_only_its_scopes(api, admin):
    ent = await enterprise(api, admin)
    url = f"/open/v1/credit/enterprises/{ent['uscc']}"
    credit_key = await api_key(api, admin, ["credit:read"])
    other_key = await api_key(api, admin, ["enterprises:read"])
    assert_error(await api.get(url, headers=other_key), 403, "API_KEY_SCOPE")
    assert_error(await api.get(url, headers=admin), 403, "API_KEY_SCOPE")  # a user token is not a department key
    assert_error(await api.get(url), 401, "AUTH_REQUIRED")
    assert (await api.get(url, headers={"X-API-Key": "zk_nope.nope"})).status_code == 401
    # …and the credit key reaches no regulator route.
    assert (await api.get(f"/api/v1/credit/enterprises/{ent['id']}", headers=credit_key)).status_code in (401, 403)
    resp = await api.get(url, headers=credit_key)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body == {**body, "uscc": ent["uscc"], "name": ent["name"], "score": 100.0, "band": "A", "lists": [],
                    "black_listed": False, "red_listed": False, "restrictions": [], "restricted_since": None}
    assert_error(await api.get(f"/open/v1/credit/enterprises/{new_uscc()}", headers=credit_key), 404, "ENTERPRISE_NOT_FOUND")


async def test_bulk_check_and_every_query_is_audited(api, admin):
    clean = await enterprise(api, admin)
    bad = await enterprise(api, admin)
    assert (await manual(api, admin, bad["id"], "serious_violation")).status_code == 201
    key = await api_key(api, admin, ["credit:read"])
    me = (await api.get("/api/v1/me", headers=key)).json()
    unknown = new_uscc()
    resp = await api.post("/open/v1/credit/bulk-check", json={"codes": [clean["uscc"], bad["uscc"].lower(), unknown]},
                          headers=key)
    assert resp.status_code == 200, resp.text
    items = {i["uscc"]: i for i in resp.json()["items"]}
    assert items[unknown] == {"uscc": unknown, "found": False, "status": None}
    assert items[clean["uscc"]]["status"]["lists"] == []
    assert items[bad["uscc"]]["status"]["lists"][0]["list_kind"] == "black"
    assert items[bad["uscc"]]["status"]["lists"][0]["status"] == "notice"
    assert_error(await api.post("/open/v1/credit/bulk-check", json={"codes": []}, headers=key), 400, "VALIDATION_ERROR")
    assert_error(await api.post("/open/v1/credit/bulk-check", json={"codes": ["x"] * 101}, headers=key), 400,
                 "VALIDATION_ERROR")
    await api.get(f"/open/v1/credit/enterprises/{bad['uscc']}", headers=key)
    await api.get(f"/open/v1/credit/enterprises/{unknown}", headers=key)
    rows = await CreditAudit.select().where(CreditAudit.actor_id == me["id"]).order_by(CreditAudit.id)
    assert [r["action"] for r in rows] == ["query.bulk", "query.status", "query.status"]
    assert all(r["actor_kind"] == "api_key" for r in rows)
    assert str(rows[1]["enterprise"]) == bad["id"] and rows[2]["enterprise"] is None
    # The trail is readable by city-wide admins, newest first.
    log = (await api.get("/api/v1/credit/audit", params={"enterprise_id": bad["id"]}, headers=admin)).json()
    assert log[0]["action"] == "query.status" and log[0]["detail"]["black"] is False
    assert {"event.recorded", "score.changed", "listing.propose"} <= {e["action"] for e in log}


async def test_rate_limited_per_key(api, admin, app):
    ent = await enterprise(api, admin)
    key = await api_key(api, admin, ["credit:read"])
    other = await api_key(api, admin, ["credit:read"])
    limit = app.state.settings.CREDIT_OPEN_RATE_PER_MIN
    url = f"/open/v1/credit/enterprises/{ent['uscc']}"
    for _ in range(limit):
        assert (await api.get(url, headers=key)).status_code == 200
    limited = await api.get(url, headers=key)
    assert_error(limited, 429, "RATE_LIMITED")
    assert limited.json()["detail"]["retry_after_s"] >= 1
    assert_error(await api.post("/open/v1/credit/bulk-check", json={"codes": [ent["uscc"]]}, headers=key), 429,
                 "RATE_LIMITED")
    assert (await api.get(url, headers=other)).status_code == 200  # another department is not affected


async def test_inspector_sees_listings(api, admin):
    insp = await staff_token(api, "lc_inspector")
    resp = await api.get("/api/v1/credit/listings", params={"list_kind": "black"}, headers=insp)
    assert resp.status_code == 200 and all(item["list_kind"] == "black" for item in resp.json())
