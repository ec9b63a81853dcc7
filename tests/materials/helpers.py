"""Helpers for materials tests: the demo project, its people, a lab user, a batch through its chain."""

from __future__ import annotations

import uuid
from typing import Any

from shapely.geometry import shape

from tests.support.api import STAFF_PASSWORD, staff_token

PROJECT_PERMIT = "330302202603150101"  # demo: GC 瓯江建设 (lead_wang), supervision 正衡监理 (sup_li), 鹿城区
MANUFACTURER_USCC = "91330300MA2LM1N2PN"
LAB_USCC = "91330302MA2NP3Q4RA"
_cache: dict[str, Any] = {}


async def world(api, admin) -> dict[str, Any]:
    """Ids and sign-in headers shared by the tests (the lab user is made once)."""
    if "w" in _cache:
        return _cache["w"]
    projects = (await api.get("/api/v1/projects", params={"q": PROJECT_PERMIT}, headers=admin)).json()["items"]
    project = (await api.get(f"/api/v1/projects/{projects[0]['id']}", headers=admin)).json()
    ents = {}
    for uscc in (MANUFACTURER_USCC, LAB_USCC):
        found = (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()
        ents[uscc] = found["items"][0]["id"]
    username = f"lab_{uuid.uuid4().hex[:6]}"
    resp = await api.post("/api/v1/users", json={
        "role": "supervisor", "display_name": "检测员周工", "username": username, "password": STAFF_PASSWORD,
        "enterprise_id": ents[LAB_USCC]}, headers=admin)
    assert resp.status_code == 201, resp.text
    far = (await api.get("/api/v1/districts/330381?include_boundary=true", headers=admin)).json()
    point = shape(far["boundary"]).representative_point()
    _cache["w"] = {
        "project": project, "manufacturer": ents[MANUFACTURER_USCC], "lab": ents[LAB_USCC],
        "lead": await staff_token(api, "lead_wang"), "sup": await staff_token(api, "sup_li"),
        "insp": await staff_token(api, "lc_inspector"), "other_insp": await staff_token(api, "ra_inspector"),
        "lab_user": await staff_token(api, username), "far_point": (point.x, point.y),
    }
    return _cache["w"]


async def new_batch(api, w, material="rebar", grade="HRB400E", spec="Ø25", headers=None) -> dict[str, Any]:
    resp = await api.post("/api/v1/materials/batches", json={
        "material": material, "grade": grade, "spec": spec, "manufacturer_id": w["manufacturer"],
        "production_batch_no": f"B{uuid.uuid4().hex[:10].upper()}", "production_date": "2026-10-01",
        "quantity": 32.5, "unit": "t", "project_id": w["project"]["id"]}, headers=headers or w["lead"])
    assert resp.status_code == 201, resp.text
    return resp.json()


async def to_sampled(api, w, batch_id: str) -> None:
    r = await api.post(f"/api/v1/materials/batches/{batch_id}/entry-inspection",
                       json={"accepted": True, "quantity_received": 32.5}, headers=w["sup"])
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/materials/batches/{batch_id}/samplings",
                       json={"sample_no": f"S{uuid.uuid4().hex[:8]}", "sampled_by": "取样员", "lab_id": w["lab"]},
                       headers=w["sup"])
    assert r.status_code == 200 and r.json()["status"] == "sampled", r.text


async def report(api, w, batch_id: str, body: dict[str, Any], headers=None):
    return await api.post(f"/api/v1/materials/batches/{batch_id}/reports",
                          json={"report_no": f"R{uuid.uuid4().hex[:12]}", **body}, headers=headers or w["lab_user"])


async def labels(api, w, batch_id: str) -> list[dict[str, Any]]:
    resp = await api.get(f"/api/v1/materials/batches/{batch_id}/labels", headers=w["lead"])
    assert resp.status_code == 200, resp.text
    return resp.json()
