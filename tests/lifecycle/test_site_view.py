"""The live site view: the JSON for regulators and the mini-program, and the page in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.complaints.helpers import report
from tests.credit.test_console import CHROMIUM, _chromium, live_server  # noqa: F401 - the live uvicorn fixture
from tests.lifecycle.helpers import batch, clock_body, inspection, people, planned_project, rostered_worker
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]


async def _busy_site(api, admin) -> dict:
    """A started project with two rostered workers (one on site today), a rejected and a registered batch,
    an open complaint, a camera without frames yet and an open inspection request."""
    p = await people(api)
    project = await planned_project(api, admin, status="under_construction")
    on_site = await rostered_worker(api, admin, project)
    await rostered_worker(api, admin, project)
    clocked = await api.post("/mp/v1/workforce/clocks", json=await clock_body(api, project, on_site), headers=on_site)
    assert clocked.status_code in (200, 201), clocked.text
    bad = (await batch(api, admin, project, p["lead_wang"])).json()
    rejected = await api.post(f"/api/v1/materials/batches/{bad['id']}/entry-inspection",
                              json={"accepted": False, "note": "规格不符"}, headers=p["sup_li"])
    assert rejected.status_code == 200, rejected.text
    assert (await batch(api, admin, project, p["lead_wang"])).status_code == 201
    _, complaint = await report(api, admin, 330302, project_id=project["id"])
    camera = await api.post("/api/v1/cameras", json={"project_id": project["id"], "name": "塔吊东侧", "source": "upload"},
                            headers=admin)
    assert camera.status_code == 201, camera.text
    req = (await inspection(api, project, p["lead_wang"], "foundation", "基础梁钢筋")).json()
    return {"project": project, "batch": bad, "complaint": complaint, "request": req, "people": p}


async def test_site_json_for_staff_and_for_the_lead_and_supervisor(api, admin):
    site = await _busy_site(api, admin)
    p, pid = site["people"], site["project"]["id"]
    resp = await api.get(f"/api/v1/projects/{pid}/site", headers=p["lc_inspector"])
    assert resp.status_code == 200, resp.text
    d = resp.json()
    assert d["project"]["stage"] == "started" and d["project"]["stage_zh"] == "开工"
    assert [(t["stage"], t["reached"], t["current"]) for t in d["timeline"]][:4] == [
        ("approved", True, False), ("permitted", True, False), ("started", True, True), ("foundation_accepted", False, False)]
    assert d["timeline"][2]["at"] is not None  # registered at this stage
    assert d["workers"]["roster"] == 2 and d["workers"]["on_site_today"] == 1
    assert d["batches"] == {"entry_rejected": 1, "registered": 1}
    assert [(c["id"], c["sla"]) for c in d["complaints"]] == [(site["complaint"]["id"], "on_time")]
    assert [(c["name"], c["frame_id"], c["evidence_url"]) for c in d["cameras"]] == [("塔吊东侧", None, None)]
    assert d["alarms"] == [] and d["holds"] == []
    assert d["inspections"]["submitted"] == 1
    assert sorted(b["kind"] for b in d["blocking"]) == ["complaint_open", "inspection_open", "material_batch_failed"]
    # The same data for the mini-program's lead and supervisor views; staff use the regulators' route.
    for who in ("lead_wang", "sup_li"):
        mp = await api.get(f"/mp/v1/projects/{pid}/site", headers=p[who])
        assert mp.status_code == 200, mp.text
        assert {k: v for k, v in mp.json().items() if k not in ("generated_at", "cameras")} == \
            {k: v for k, v in d.items() if k not in ("generated_at", "cameras")}
    assert_error(await api.get(f"/mp/v1/projects/{pid}/site", headers=p["lc_inspector"]), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get(f"/api/v1/projects/{pid}/site", headers=p["lw_inspector"]), 403, "FORBIDDEN_DISTRICT")
    other = await planned_project(api, admin, status="under_construction", supervised=False)
    assert_error(await api.get(f"/mp/v1/projects/{other['id']}/site", headers=p["sup_li"]), 403, "FORBIDDEN_OWNER")


@pytest.mark.skipif(CHROMIUM is None, reason="missing: chromium (Debian/Ubuntu: apt-get install chromium)")
async def test_site_page_in_chromium(api, admin, live_server, tmp_path):  # noqa: F811 - the fixture
    site = await _busy_site(api, admin)
    pid = site["project"]["id"]
    ticket = (await api.post("/api/v1/credit/console-ticket", headers=site["people"]["lc_inspector"])).json()["ticket"]
    dom = await _chromium("--dump-dom", f"{live_server}/console/projects/{pid}/site?ticket={ticket}")
    assert site["project"]["name"] in dom
    assert re.search(r'id="stage">开工<', dom)
    assert re.search(r'id="workers-on-site">1 / 2<', dom) and re.search(r'id="batches-failed">1<', dom)
    assert re.search(r'id="complaints-open">1<', dom)
    assert dom.count('class="stage reached') == 3 and dom.count('class="stage reached current"') == 1
    assert f'href="/api/v1/materials/batches/{site["batch"]["id"]}"' in dom
    assert f'href="/api/v1/inspection-requests/{site["request"]["id"]}"' in dom
    assert site["complaint"]["number"] in dom and "暂无分析画面" in dom
    # Another district's inspector's ticket shows nothing of it.
    other = (await api.post("/api/v1/credit/console-ticket", headers=site["people"]["lw_inspector"])).json()["ticket"]
    refused = await _chromium("--dump-dom", f"{live_server}/console/projects/{pid}/site?ticket={other}")
    assert site["project"]["name"] not in refused and "FORBIDDEN_DISTRICT" in refused

    shot = tmp_path / "site_view.png"
    ticket = (await api.post("/api/v1/credit/console-ticket", headers=site["people"]["lc_inspector"])).json()["ticket"]
    await _chromium(f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars",
                    f"{live_server}/console/projects/{pid}/site?ticket={ticket}")
    image = cv2.imdecode(np.frombuffer(shot.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (900, 1280)
    assert float(image.std()) > 10
    # The timeline's reached dots are drawn in blue (#1565c0, BGR) and the failed-batch bar in red (#c62828).
    assert np.any(np.all(np.abs(image.astype(int) - (0xC0, 0x65, 0x15)) < 8, axis=2))
    assert np.any(np.all(np.abs(image.astype(int) - (0x28, 0x28, 0xC6)) < 8, axis=2))
    if os.environ.get("ZHIJIAN_UPDATE_SCREENSHOT"):
        shutil.copy(shot, ROOT / "docs" / "site_view.png")
