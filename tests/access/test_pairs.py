"""Two of each person (issue 17's fixture world, tests/access/world.py ``pairs``): what belongs to A is refused to B.

Each read is a real HTTP request through the public API; a refusal is 403/404 in the error shape and the body
carries none of A's data. Each test first shows A (or A's own side) reading the same thing, so a "not in the body"
cannot pass for lack of data. Not repeated here: a lab without the sampling filing a report (tests/access/
test_holes.py), another general contractor's lead reading a worker's unmasked PII (tests/access/test_pii.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.workforce.tables import Clock, ProjectWorker
from tests.access.world import pairs
from tests.complaints.helpers import report as complaint_report
from tests.support.api import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")
SH = ZoneInfo("Asia/Shanghai")


def refused(resp, *secrets: str) -> str:
    """'' when the answer is a refusal in the error shape that leaks none of ``secrets``; else what is wrong."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code not in (403, 404) or not (isinstance(body, dict) and set(body) == {"code", "message", "detail"}):
        return f"{resp.request.method} {resp.request.url.path} → {resp.status_code} {resp.text[:160]}"
    leaked = [s for s in secrets if s and s in resp.text]
    return f"{resp.request.method} {resp.request.url.path} leaked {leaked}" if leaked else ""


async def test_citizen_b_reads_nothing_of_citizen_a(api, admin):
    p = await pairs(api, admin)
    a, b = bearer(p["A"]["citizen"]), bearer(p["B"]["citizen"])
    _, complaint = await complaint_report(api, admin, 330302, pair=p["A"]["citizen"])
    photo = complaint["photos"][0]
    secrets = [complaint["id"], complaint["number"], complaint["description"], photo["url"], photo["thumbnail_url"]]
    # A reads all of it (the control)
    assert (await api.get(f"/mp/v1/media/{photo['id']}/url", headers=a)).status_code == 200
    mine = (await api.get("/mp/v1/privacy/my-data", headers=a)).json()
    assert complaint["id"] in [c["id"] for c in mine["complaints"]] and photo["id"] in [m["id"] for m in mine["photos"]]

    wrong = [refused(await api.get(path, headers=b), *secrets) for path in (
        f"/mp/v1/complaints/{complaint['id']}",
        f"/mp/v1/media/{photo['id']}", f"/mp/v1/media/{photo['id']}/url",
    )]
    # B's own lists and B's privacy export (PIPL 第45条 copy) hold nothing of A
    listed = await api.get("/mp/v1/complaints", headers=b)
    assert listed.status_code == 200 and complaint["id"] not in listed.text and complaint["description"] not in listed.text
    theirs = await api.get("/mp/v1/privacy/my-data", headers=b)
    assert theirs.status_code == 200, theirs.text
    assert not [s for s in [*secrets, photo["id"], p["A"]["citizen"]["user"]["id"]] if s in theirs.text]
    assert theirs.json()["account"]["id"] == p["B"]["citizen"]["user"]["id"]
    assert not [w for w in wrong if w], "\n".join(w for w in wrong if w)


async def test_worker_b_reads_nothing_of_worker_a(api, admin):
    p = await pairs(api, admin)
    wa, wb = p["A"]["worker"], p["B"]["worker"]
    project, labour = p["A"]["site"]["project"], p["A"]["site"]["labour"]
    # A worked two days last month on project A (arranged in the tables, as the payroll tests do) and has a payroll
    month_start = datetime.now(SH).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = (month_start - timedelta(days=1)).replace(day=1)
    await ProjectWorker.insert(ProjectWorker(project=project, worker=wa["id"], enterprise=labour, daily_rate_fen=41234,
                                             entered_at=last, exited_at=month_start - timedelta(hours=1)))
    for day in (3, 4):
        await Clock.insert(Clock(worker=wa["id"], project=project, kind="in", at=last.replace(day=day, hour=8),
                                 lng=p["A"]["site"]["lng"], lat=p["A"]["site"]["lat"]))
    payroll = await api.post("/api/v1/payrolls", json={"project_id": project, "enterprise_id": labour,
                                                       "month": last.strftime("%Y-%m")}, headers=p["A"]["sub_lead"])
    assert payroll.status_code == 201, payroll.text
    payroll_id = payroll.json()["id"]
    # A reads its own (the control)
    clocks = (await api.get("/mp/v1/workforce/clocks", headers=wa["headers"])).json()
    lines = (await api.get("/mp/v1/workforce/payroll-lines", headers=wa["headers"])).json()
    assert len(clocks) >= 2 and [line["payroll_id"] for line in lines] == [payroll_id]
    assert (await api.get("/mp/v1/privacy/my-data", headers=wa["headers"])).json()["worker"]["id_number"] == wa["id_number"]

    secrets = [wa["id"], wa["id_number"], wa["phone"], wa["id_number"][:14], payroll_id,
               "41234", project]
    wrong = [refused(await api.get(path, headers=wb["headers"]), *secrets) for path in (
        f"/api/v1/workers/{wa['id']}/pii", f"/api/v1/workers/{wa['id']}",
        f"/api/v1/payrolls/{payroll_id}", f"/api/v1/payrolls/{payroll_id}/events",
    )]
    wrong.append(refused(await api.get("/api/v1/roster", params={"project_id": project}, headers=wb["headers"]), *secrets))
    # B's own clocks, payslip lines and privacy copy hold nothing of A
    for path in ("/mp/v1/workforce/clocks", "/mp/v1/workforce/payroll-lines", "/mp/v1/privacy/my-data"):
        resp = await api.get(path, headers=wb["headers"])
        assert resp.status_code == 200, resp.text
        leaked = [s for s in secrets if s in resp.text]
        if leaked:
            wrong.append(f"GET {path} as worker B leaked {leaked}")
    assert (await api.get("/mp/v1/privacy/my-data", headers=wb["headers"])).json()["worker"]["id"] == wb["id"]
    assert not [w for w in wrong if w], "\n".join(w for w in wrong if w)


async def test_lead_of_gc_b_reads_nothing_of_project_a_workers(api, admin):
    p = await pairs(api, admin)
    wa, project = p["A"]["worker"], p["A"]["site"]["project"]
    lead_a, lead_b = p["A"]["gc_lead"], p["B"]["gc_lead"]
    # A's general contractor reads its roster and the unmasked values (the control)
    roster = await api.get("/api/v1/roster", params={"project_id": project}, headers=lead_a)
    assert roster.status_code == 200 and wa["id"] in roster.text, roster.text
    assert (await api.get(f"/api/v1/workers/{wa['id']}/pii", headers=lead_a)).json()["id_number"] == wa["id_number"]

    secrets = [wa["id_number"], wa["phone"], wa["id_number"][:14], wa["stint"]]
    month = datetime.now(SH).strftime("%Y-%m")
    wrong = [refused(await api.get(f"/api/v1/workers/{wa['id']}/pii", headers=lead_b), *secrets)]
    for path, params in (("/api/v1/roster", {"project_id": project}),
                         ("/api/v1/workforce/exports", {"project_id": project, "month": month}),
                         ("/api/v1/payrolls", {"project_id": project})):
        resp = await api.get(path, params=params, headers=lead_b)
        if resp.status_code == 200:  # a list may answer "nothing of yours" instead of refusing: then it is empty
            body = resp.json()
            items = body.get("items", body) if isinstance(body, dict) else body
            if items or wa["id"] in resp.text:
                wrong.append(f"GET {path} {params} as lead of GC B → 200 with {resp.text[:160]}")
        else:
            wrong.append(refused(resp, *secrets, wa["id"]))
    # B's own project roster is readable to B's lead and holds nobody of A
    own = await api.get("/api/v1/roster", params={"project_id": p["B"]["site"]["project"]}, headers=lead_b)
    assert own.status_code == 200 and p["B"]["worker"]["id"] in own.text and wa["id"] not in own.text, own.text
    assert not [w for w in wrong if w], "\n".join(w for w in wrong if w)
