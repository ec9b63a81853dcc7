"""The fixture world of the access tests: one signed-in caller of every actor kind (``callers``, the matrix) and
two of each person on either side of every boundary (``pairs``, the relation tests)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from stdnum.cn import ric

from backend.access import actors as A
from tests.support.api import STAFF_PASSWORD, bearer, mp_login, staff_token

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务有限公司 (demo)
GC = "91330303MA2CD3E4FR"  # 浙江瓯江建设集团有限公司 (demo; lead_wang works for it)
LAB = "91330302MA2NP3Q4RA"  # 温州市建设工程检测中心 (demo testing lab)

_cache: dict[str, Any] = {}


def id_number() -> str:
    body = f"330302{random.randint(1986, 2000)}0{random.randint(1, 9)}1{random.randint(0, 8)}{random.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


async def enterprise(api, admin, uscc: str) -> str:
    return (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()["items"][0]["id"]


async def enterprise_user(api, admin, role: str, enterprise_id: str) -> dict[str, str]:
    username = f"acc_{uuid.uuid4().hex[:8]}"
    resp = await api.post("/api/v1/users", json={"role": role, "display_name": "测试用户", "username": username,
                                                 "password": STAFF_PASSWORD, "enterprise_id": enterprise_id}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"headers": await staff_token(api, username), "id": resp.json()["id"], "username": username}


async def linked_worker(api, admin, employer_id: str) -> dict[str, Any]:
    number, phone = id_number(), f"139{random.randint(10_000_000, 99_999_999)}"
    made = await api.post("/api/v1/workers", json={"name": "赵六", "id_number": number, "employer_id": employer_id,
                                                   "contract_signed": True, "phone": phone}, headers=admin)
    assert made.status_code == 201, made.text
    code = await api.post(f"/api/v1/workers/{made.json()['id']}/bind-code", headers=admin)  # from the employer
    assert code.status_code in (200, 201), code.text
    pair = await mp_login(api)
    resp = await api.post("/mp/v1/workforce/link", json={"id_number": number, "name": "赵六", "phone": phone,
                                                         "bind_code": code.json()["code"]}, headers=bearer(pair))
    assert resp.status_code == 200, resp.text
    return {"headers": bearer(resp.json()), "id": made.json()["id"], "id_number": number, "phone": phone}


async def callers(api, admin) -> dict[str, dict[str, str]]:
    """Headers of one caller per actor kind, keyed by kind (keys: one per scope)."""
    if "callers" in _cache:
        return _cache["callers"]
    out: dict[str, dict[str, str]] = {A.ANONYMOUS: {}, A.CITY_ADMIN: admin}
    out[A.CITIZEN] = bearer(await mp_login(api))
    out[A.WORKER] = (await linked_worker(api, admin, await enterprise(api, admin, LABOUR)))["headers"]
    out[A.LEAD] = await staff_token(api, "lead_wang")
    out[A.SUPERVISOR] = await staff_token(api, "sup_li")
    out[A.INSPECTOR] = await staff_token(api, "lc_inspector")
    out[A.DISTRICT_ADMIN] = await staff_token(api, "lc_admin")
    for scope in A.SCOPES:
        resp = await api.post("/api/v1/api-keys", json={"name": f"matrix {scope}", "department": "测试部门",
                                                        "scopes": [scope]}, headers=admin)
        assert resp.status_code == 201, resp.text
        out[A.KEY_PREFIX + scope] = {"X-API-Key": resp.json()["key"]}
    _cache["callers"] = out
    return out


async def site(api, admin, gc_uscc: str = GC, adcode: int = 330302, labour_uscc: str = LABOUR) -> dict[str, Any]:
    """A project of `adcode` with the given labour subcontractor (the demo one) and general contractor."""
    from tests.support.api import new_permit

    d = 0.002
    district = (await api.get(f"/api/v1/districts/{adcode}", headers=admin)).json()
    lng, lat = district["center"]
    # Off the centre by a few hundred metres (other tests look for projects near it), still well inside.
    lng, lat = lng + random.uniform(-0.012, -0.006), lat + random.uniform(-0.012, -0.006)
    fence = {"type": "Polygon", "coordinates": [[[lng - d, lat - d], [lng + d, lat - d], [lng + d, lat + d],
                                                  [lng - d, lat + d], [lng - d, lat - d]]]}
    labour, gc = await enterprise(api, admin, labour_uscc), await enterprise(api, admin, gc_uscc)
    resp = await api.post("/api/v1/projects", json={
        "name": "访问控制测试项目", "permit_no": new_permit(), "location": {"lng": lng, "lat": lat, "coord_type": "gcj02"},
        "geofence": fence, "parties": [{"enterprise_id": labour, "role": "labour_subcontractor"},
                                       {"enterprise_id": gc, "role": "general_contractor"}]}, headers=admin)
    assert resp.status_code == 201, resp.text
    return {"project": resp.json()["id"], "labour": labour, "gc": gc, "lng": lng, "lat": lat}


async def new_gc_with_lead(api, admin) -> dict[str, Any]:
    """Another general contractor of the city and one project lead of it."""
    from tests.support.api import new_uscc

    made = await api.post("/api/v1/enterprises", json={"name": f"别家总包{uuid.uuid4().hex[:4]}", "uscc": new_uscc(),
                                                       "kinds": ["general_contractor"]}, headers=admin)
    assert made.status_code == 201, made.text
    lead = await enterprise_user(api, admin, "project_lead", made.json()["id"])
    return {"id": made.json()["id"], "uscc": made.json()["uscc"], "lead": lead["headers"]}


async def new_enterprise(api, admin, kind: str, name: str) -> dict[str, Any]:
    from tests.support.api import new_uscc

    made = await api.post("/api/v1/enterprises", json={"name": f"{name}{uuid.uuid4().hex[:4]}", "uscc": new_uscc(),
                                                       "kinds": [kind]}, headers=admin)
    assert made.status_code == 201, made.text
    return made.json()


async def pairs(api, admin) -> dict[str, Any]:
    """Two of each, on either side of every boundary (issue 17's fixture world), made once per run.

    Two projects in two districts with different general contractors and labour subcontractors: A (鹿城 330302:
    the demo general contractor of lead_wang, the demo labour firm) and B (龙湾 330303: a new general contractor and
    a new labour firm, each with a lead). Two citizens; two linked workers, A on project A's roster and B on B's;
    a user of the demo lab (the one the demo samplings go to) and of a lab with no sampling at all.
    """
    if "pairs" in _cache:
        return _cache["pairs"]
    gc_b = await new_gc_with_lead(api, admin)
    labour_b = await new_enterprise(api, admin, "labour_subcontractor", "别家劳务")
    other_lab = await new_enterprise(api, admin, "testing_lab", "别家检测")
    out: dict[str, Any] = {"A": {}, "B": {}}
    for side, gc_uscc, labour_uscc, adcode, lead in (
            ("A", GC, LABOUR, 330302, await staff_token(api, "lead_wang")),
            ("B", gc_b["uscc"], labour_b["uscc"], 330303, gc_b["lead"])):
        place = await site(api, admin, gc_uscc, adcode, labour_uscc)
        worker = await linked_worker(api, admin, place["labour"])
        stint = await api.post("/api/v1/roster", json={"project_id": place["project"], "worker_id": worker["id"],
                                                       "enterprise_id": place["labour"], "trade": "木工",
                                                       "daily_rate_fen": 40000}, headers=lead)
        assert stint.status_code == 201, stint.text
        out[side] = {
            "site": place, "gc_lead": lead, "worker": {**worker, "stint": stint.json()["id"]},
            "sub_lead": (await enterprise_user(api, admin, "project_lead", place["labour"]))["headers"],
            "citizen": await mp_login(api),
        }
    out["lab_with_sampling"] = (await enterprise_user(api, admin, "supervisor", await enterprise(api, admin, LAB)))["headers"]
    out["lab_without_sampling"] = (await enterprise_user(api, admin, "supervisor", other_lab["id"]))["headers"]
    _cache["pairs"] = out
    return out
