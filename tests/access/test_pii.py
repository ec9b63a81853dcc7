"""Unmasked worker data: only leads of the worker's current employer / general contractor and city admins; audited."""

from __future__ import annotations

import pytest

from tests.access.world import linked_worker, new_gc_with_lead, site
from tests.support.api import staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_pii_only_for_current_employer_or_gc_and_every_read_audited(api, admin):
    place = await site(api, admin)
    worker = await linked_worker(api, admin, place["labour"])
    lead = await staff_token(api, "lead_wang")  # lead of the project's general contractor
    stint = await api.post("/api/v1/roster", json={"project_id": place["project"], "worker_id": worker["id"],
                                                   "enterprise_id": place["labour"], "trade": "木工",
                                                   "daily_rate_fen": 40000}, headers=lead)
    assert stint.status_code == 201, stint.text
    url = f"/api/v1/workers/{worker['id']}/pii"

    other = await new_gc_with_lead(api, admin)  # a general contractor with nothing to do with this worker
    assert_error(await api.get(url, headers=other["lead"]), 403, "PII_NOT_EMPLOYER")
    assert_error(await api.get(url, headers=await staff_token(api, "lc_admin")), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get(url, headers=await staff_token(api, "lc_inspector")), 403, "FORBIDDEN_ROLE")

    full = await api.get(url, headers=lead)
    assert full.status_code == 200 and full.json()["id_number"] == worker["id_number"], full.text
    assert (await api.get(url, headers=admin)).status_code == 200

    audit = await api.get("/api/v1/access/pii-reads", params={"worker_id": worker["id"]}, headers=admin)
    assert audit.status_code == 200, audit.text
    rows = audit.json()
    assert [r["actor_role"] for r in rows] == ["regulator_admin", "project_lead"]
    assert all(r["what"] == "worker_pii" for r in rows)
    assert_error(await api.get("/api/v1/access/pii-reads", headers=await staff_token(api, "lc_admin")), 403, "FORBIDDEN_ROLE")

    # Once the worker has left the project, its general contractor no longer needs the unmasked values.
    out = await api.post(f"/api/v1/roster/{stint.json()['id']}/exit", headers=lead)
    assert out.status_code == 200, out.text
    assert_error(await api.get(url, headers=lead), 403, "PII_NOT_EMPLOYER")


async def test_unmasked_exports_are_audited(api, admin):
    place = await site(api, admin)
    before = len((await api.get("/api/v1/access/pii-reads", params={"limit": 200}, headers=admin)).json())
    inspector = await staff_token(api, "lc_inspector")
    masked = await api.get("/api/v1/workforce/exports", params={"project_id": place["project"], "month": "2026-11"},
                           headers=inspector)
    assert masked.status_code == 200, masked.text
    assert len((await api.get("/api/v1/access/pii-reads", params={"limit": 200}, headers=admin)).json()) == before
    full = await api.get("/api/v1/workforce/exports", params={"project_id": place["project"], "month": "2026-11"},
                         headers=admin)
    assert full.status_code == 200, full.text
    rows = (await api.get("/api/v1/access/pii-reads", params={"limit": 200}, headers=admin)).json()
    assert len(rows) == before + 1 and rows[0]["what"] == "export" and rows[0]["project"] == place["project"]
    assert rows[0]["detail"] == "2026-11"
