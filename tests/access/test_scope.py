"""Lists are filtered by the policy's scope: a list, its total and its counts hold only what the caller may read."""

from __future__ import annotations

from uuid import uuid4

import pytest

from backend.access.scope import Scope, project_scope
from backend.auth.principal import Principal, Role
from backend.errors import Forbidden
from tests.support.api import new_permit, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio

LUCHENG, LONGWAN = 330302, 330303


async def _total(api, headers, query: str = "") -> int:  # noqa: ANN001
    resp = await api.get(f"/api/v1/projects?limit=1{query}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["total"]


async def test_project_list_total_never_counts_another_districts_projects(api, admin):
    lc_admin = await staff_token(api, "lc_admin")
    lw_inspector = await staff_token(api, "lw_inspector")
    before_lc, before_lw, before_city = await _total(api, lc_admin), await _total(api, lw_inspector), await _total(api, admin)
    center = (await api.get(f"/api/v1/districts/{LONGWAN}", headers=admin)).json()["center"]
    created = await api.post("/api/v1/projects", headers=admin, json={
        "name": "龙湾范围测试", "permit_no": new_permit(),
        "location": {"lng": center[0], "lat": center[1], "coord_type": "gcj02"}})
    assert created.status_code == 201, created.text
    assert created.json()["district_adcode"] == LONGWAN
    # Lucheng's admin: the new Longwan project is neither listed nor counted; Longwan's staff and the city see it.
    assert await _total(api, lc_admin) == before_lc
    assert await _total(api, lw_inspector) == before_lw + 1
    assert await _total(api, admin) == before_city + 1
    page = (await api.get("/api/v1/projects?limit=200", headers=lc_admin)).json()
    assert {p["district_adcode"] for p in page["items"]} <= {LUCHENG}
    assert created.json()["id"] not in {p["id"] for p in page["items"]}
    # Asking for the other district by name is refused, not answered with an empty (or full) count.
    assert_error(await api.get(f"/api/v1/projects?district_adcode={LONGWAN}", headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
    # A project lead counts only the projects it leads: the new one (no leads) is not among them.
    lead = await staff_token(api, "lead_wang")
    assert created.json()["id"] not in {
        p["id"] for p in (await api.get("/api/v1/projects?limit=200", headers=lead)).json()["items"]}


def _actor(role: Role, district: int | None = None, enterprise=None) -> Principal:  # noqa: ANN001
    return Principal(kind="user", id=uuid4(), role=role, district_id=district, enterprise_id=enterprise)


async def test_scope_table():
    city = _actor(Role.REGULATOR_ADMIN)
    assert project_scope(city) == Scope() and project_scope(city).everything
    assert project_scope(city, LONGWAN) == Scope(district=LONGWAN)
    inspector = _actor(Role.INSPECTOR, LUCHENG)
    assert project_scope(inspector) == Scope(district=LUCHENG)
    with pytest.raises(Forbidden) as refused:
        project_scope(inspector, LONGWAN)
    assert refused.value.code == "FORBIDDEN_DISTRICT"
    lead = _actor(Role.PROJECT_LEAD, enterprise=uuid4())
    assert project_scope(lead) == Scope(lead=lead.id)
    supervisor = _actor(Role.SUPERVISOR, enterprise=uuid4())
    assert project_scope(supervisor, LUCHENG) == Scope(district=LUCHENG, party=supervisor.enterprise_id)
    for outsider in (_actor(Role.CITIZEN), _actor(Role.WORKER), _actor(Role.SUPERVISOR)):
        with pytest.raises(Forbidden) as refused:
            project_scope(outsider)
        assert refused.value.code == "FORBIDDEN_ROLE"
    with pytest.raises(Forbidden) as refused:
        project_scope(lead, staff_only=True)
    assert refused.value.code == "FORBIDDEN_ROLE"
    clauses, args = Scope(district=LUCHENG, lead=lead.id).sql("a.project", "a.district")
    assert clauses == ["a.district = {}", 'a.project IN (SELECT project FROM project_leads WHERE "user" = {})']
    assert args == [LUCHENG, lead.id]
