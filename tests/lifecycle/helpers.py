"""Helpers for lifecycle tests: a fresh planned project with its parties, people and a photo."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from stdnum.cn import ric

from tests.support.api import bearer, mp_login, new_permit, staff_token
from tests.support.images import encode, picture, scene

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务有限公司 (demo)
GC = "91330303MA2CD3E4FR"  # 浙江瓯江建设集团有限公司 (demo; lead_wang works for it)
SUPERVISION = "91330381MA2GH7J8K6"  # 温州正衡工程监理有限公司 (demo; sup_li works for it)
MANUFACTURER = "91330300MA2LM1N2PN"
D = 0.002  # half side of the square geofence, degrees (~200 m)


async def enterprise(api, admin, uscc: str) -> str:
    return (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()["items"][0]["id"]


async def people(api) -> dict[str, dict[str, str]]:
    names = ("lead_wang", "sup_li", "lc_inspector", "lw_inspector", "admin")
    return {name: await staff_token(api, name) for name in names}


async def planned_project(api, admin, *, status: str = "planned", supervised: bool = True) -> dict[str, Any]:
    """A project in 鹿城区 registered at 立项 (status planned), with GC, labour, supervision and lead_wang."""
    district = (await api.get("/api/v1/districts/330302", headers=admin)).json()
    lng, lat = district["center"]
    lng += random.uniform(-0.01, 0.01)
    lat += random.uniform(-0.01, 0.01)
    fence = {"type": "Polygon", "coordinates": [[[lng - D, lat - D], [lng + D, lat - D], [lng + D, lat + D],
                                                  [lng - D, lat + D], [lng - D, lat - D]]]}
    lead_id = (await api.get("/api/v1/me", headers=await staff_token(api, "lead_wang"))).json()["id"]
    parties = [{"enterprise_id": await enterprise(api, admin, LABOUR), "role": "labour_subcontractor"},
               {"enterprise_id": await enterprise(api, admin, GC), "role": "general_contractor"}]
    if supervised:
        parties.append({"enterprise_id": await enterprise(api, admin, SUPERVISION), "role": "supervision"})
    resp = await api.post("/api/v1/projects", json={
        "name": f"全生命周期测试项目{uuid.uuid4().hex[:4]}", "permit_no": new_permit(), "status": status,
        "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"}, "geofence": fence, "parties": parties,
        "lead_user_ids": [lead_id]}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {**resp.json(), "lng": lng, "lat": lat, "labour": parties[0]["enterprise_id"],
            "gc": parties[1]["enterprise_id"]}


def id_number() -> str:
    body = f"330302{random.randint(1986, 2000)}0{random.randint(1, 9)}1{random.randint(0, 8)}{random.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


async def rostered_worker(api, admin, project: dict[str, Any]) -> dict[str, str]:
    """A worker of the labour subcontractor on the project's roster, linked to WeChat; returns its headers."""
    number = id_number()
    resp = await api.post("/api/v1/workers", json={"name": "钱七", "id_number": number,
                                                   "employer_id": project["labour"], "contract_signed": True},
                          headers=admin)
    assert resp.status_code == 201, resp.text
    roster = await api.post("/api/v1/roster", json={"project_id": project["id"], "worker_id": resp.json()["id"],
                                                   "enterprise_id": project["labour"]}, headers=admin)
    assert roster.status_code == 201, roster.text
    code = await api.post(f"/api/v1/workers/{resp.json()['id']}/bind-code", headers=admin)  # handed to the worker
    assert code.status_code in (200, 201), code.text
    linked = await api.post("/mp/v1/workforce/link", json={"id_number": number, "name": "钱七",
                                                           "bind_code": code.json()["code"]},
                            headers=bearer(await mp_login(api)))
    assert linked.status_code == 200, linked.text
    return bearer(linked.json())


async def clock_body(api, project: dict[str, Any], headers) -> dict[str, Any]:
    """A clock-in at the site with the worker's own selfie (required, issue 19)."""
    data = encode(scene(random.randrange(1 << 30)), ".jpg")
    up = await api.post("/mp/v1/media", data={"purpose": "selfie"}, files={"file": ("s.jpg", data, "image/jpeg")},
                        headers=headers)
    assert up.status_code == 201, up.text
    return {"kind": "in", "project_id": project["id"], "lng": project["lng"], "lat": project["lat"],
            "coord_type": "gcj02", "accuracy_m": 8, "at": datetime.now(UTC).isoformat(),
            "request_id": uuid.uuid4().hex, "selfie_media_id": up.json()["id"]}


async def batch(api, admin, project: dict[str, Any], headers) -> Any:
    return await api.post("/api/v1/materials/batches", json={
        "material": "rebar", "grade": "HRB400E", "spec": "Ø22", "manufacturer_id": await enterprise(api, admin, MANUFACTURER),
        "production_batch_no": f"B{uuid.uuid4().hex[:10].upper()}", "production_date": "2026-10-01",
        "quantity": 28.0, "unit": "t", "project_id": project["id"]}, headers=headers)


async def sensor_point(api, project: dict[str, Any], lead, sup, cumulative_abs: float = 30) -> str:
    """A foundation pit with an approved plan and one point (sensors are registered by the test)."""
    work = await api.post("/api/v1/monitoring/works", headers=lead, json={
        "project_id": project["id"], "name": f"基坑-{uuid.uuid4().hex[:6]}", "kind": "foundation_pit",
        "parameters": {"excavation_depth_m": 9.5}})
    assert work.status_code == 201, work.text
    wid = work.json()["id"]
    resp = await api.post(f"/api/v1/monitoring/works/{wid}/plan", headers=lead, json={
        "plan_no": "FA-2026-07", "alarm_values": {"wall_top_horizontal": {"cumulative_abs": cumulative_abs, "rate_per_day": 48,
                                                                "warning_ratio": 0.7, "danger_ratio": 1.5}}})
    assert resp.status_code == 200, resp.text
    resp = await api.post(f"/api/v1/monitoring/works/{wid}/plan/approve", headers=sup,
                          json={"expert_review": "专家论证 2026-11-20 通过"})
    assert resp.status_code == 200, resp.text
    point = await api.post(f"/api/v1/monitoring/works/{wid}/points", headers=lead, json={"code": "ZQS-07"})
    assert point.status_code == 201, point.text
    return point.json()["id"]


async def photo(api, headers, seed: int = 3) -> str:
    resp = await api.post("/mp/v1/media", files={"file": ("p.jpg", encode(picture(320, 240, seed), ".jpg"), "image/jpeg")},
                          data={"purpose": "inspection"}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


async def inspection(api, project: dict[str, Any], lead, stage: str, lot: str, photos: list[str] | None = None):
    return await api.post("/api/v1/inspection-requests", json={
        "project_id": project["id"], "stage": stage, "lot": lot, "location": "3号楼 ①-⑧/Ⓐ-Ⓓ 轴",
        "description": "钢筋绑扎完成，申请隐蔽验收", "photo_ids": photos or []}, headers=lead)
