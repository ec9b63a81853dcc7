"""The relation half of the matrix: resources of one project / district / citizen, read by callers of every kind on
each side of the boundary (other district, other general contractor, other supervisor, other citizen, labs with and
without the sampling). Insiders get 200; outsiders 403/404 in the error shape, never the data."""

from __future__ import annotations

import pytest

from tests.access.world import enterprise_user, new_gc_with_lead
from tests.complaints.helpers import report as complaint_report
from tests.materials.helpers import new_batch, to_sampled
from tests.materials.helpers import world as materials_world
from tests.support.api import bearer, mp_login, new_uscc, staff_token

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_resources_answer_insiders_and_refuse_outsiders(api, admin):
    w = await materials_world(api, admin)  # the demo project in 鹿城区 330302: GC of lead_wang, supervision of sup_li
    project = w["project"]["id"]
    batch = (await new_batch(api, w))["id"]
    await to_sampled(api, w, batch)
    reporter, complaint = await complaint_report(api, admin, 330302, project_id=project)
    other_gc = await new_gc_with_lead(api, admin)
    supervision = (await api.post("/api/v1/enterprises", json={"name": "别家监理有限公司", "uscc": new_uscc(),
                                                               "kinds": ["supervision"]}, headers=admin)).json()
    other_lab = (await api.post("/api/v1/enterprises", json={"name": "别家检测有限公司", "uscc": new_uscc(),
                                                             "kinds": ["testing_lab"]}, headers=admin)).json()
    callers = {
        "inspector of the district": (await staff_token(api, "lc_inspector"), True),
        "admin of the district": (await staff_token(api, "lc_admin"), True),
        "city admin": (admin, True),
        "lead of the project's GC": (w["lead"], True),
        "the project's supervisor": (w["sup"], True),
        "inspector of another district": (await staff_token(api, "lw_inspector"), False),
        "lead of another GC": (other_gc["lead"], False),
        "supervisor of another firm": ((await enterprise_user(api, admin, "supervisor", supervision["id"]))["headers"], False),
        "user of a lab without the sampling": ((await enterprise_user(api, admin, "supervisor", other_lab["id"]))["headers"], False),
        "a citizen": (bearer(await mp_login(api)), False),
    }
    resources = [f"/api/v1/projects/{project}", f"/api/v1/materials/batches/{batch}",
                 f"/api/v1/materials/batches/{batch}/trace", f"/api/v1/materials/batches/{batch}/timeline"]
    wrong = []
    for path in resources:
        for who, (headers, inside) in callers.items():
            resp = await api.get(path, headers=headers)
            ok = resp.status_code == 200 if inside else (resp.status_code in (403, 404)
                                                          and set(resp.json()) == {"code", "message", "detail"})
            if not ok:
                wrong.append(f"{who}: GET {path} → {resp.status_code} {resp.text[:100]}")
    # The complaint: its reporter and the district's staff see it; nobody else, other citizens included.
    staff_path, citizen_path = f"/api/v1/complaints/{complaint['id']}", f"/mp/v1/complaints/{complaint['id']}"
    for who, (headers, _) in callers.items():
        inside = who in ("inspector of the district", "admin of the district", "city admin")
        resp = await api.get(staff_path, headers=headers)
        if (resp.status_code == 200) != inside or (not inside and resp.status_code not in (403, 404)):
            wrong.append(f"{who}: GET {staff_path} → {resp.status_code}")
        resp = await api.get(citizen_path, headers=headers)
        if resp.status_code == 200:
            wrong.append(f"{who}: GET {citizen_path} → 200 (not the reporter)")
    assert (await api.get(citizen_path, headers=bearer(reporter))).status_code == 200
    assert not wrong, "\n".join(wrong)
