"""The site view shows each camera's latest frame analysed by the real vision worker, and its alerts."""

from __future__ import annotations

import httpx
import pytest

from tests.cameras.conftest import vision_worker  # noqa: F401 - the worker process fixture
from tests.cameras.scene import Model, scene, scene_jpeg
from tests.cameras.scene import test_model as make_model
from tests.lifecycle.helpers import people, planned_project

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def vision_model(tmp_path_factory) -> Model:
    """The oracle graph only (exact boxes, fast): this test is about the site view, not the detector."""
    return make_model(tmp_path_factory.mktemp("vision-model"), "oracle")


async def test_latest_analysed_frame_and_alerts(api, admin, vision_worker):  # noqa: F811 - the fixture
    p = await people(api)
    lead = p["lead_wang"]
    project = await planned_project(api, admin, status="under_construction")
    t = scene().meta["target"]
    camera = await api.post("/api/v1/cameras", headers=lead, json={
        "project_id": project["id"], "name": "B区高支模", "source": "upload", "plan_spacing_m": scene().meta["plan_spacing_m"],
        "support_system": "cuplock_q235",
        "calibration": {"kind": "target", "corners_px": t["corners_px"], "corners_m": t["corners_m"], "corner_sigma_px": 0.5}})
    assert camera.status_code == 201, camera.text
    up = await api.post(f"/api/v1/cameras/{camera.json()['id']}/frames", params={"wait_s": 30},
                        files={"file": ("frame.jpg", scene_jpeg(), "image/jpeg")}, headers=lead)
    frame = up.json()
    if frame["status"] != "done":
        frame = (await api.get(f"/api/v1/cameras/frames/{frame['id']}", params={"wait_s": 30}, headers=lead)).json()
    assert frame["status"] == "done", frame
    site = (await api.get(f"/api/v1/projects/{project['id']}/site", headers=p["lc_inspector"])).json()
    [cam] = site["cameras"]
    assert cam["frame_id"] == frame["id"] and cam["analysed_at"] is not None
    assert cam["alerts_24h"] == len(frame["alerts"]) >= 1 and cam["last_rule"] in ("no_helmet", "spacing")
    async with httpx.AsyncClient() as http:  # the presigned URL serves the analysed frame (a JPEG)
        image = await http.get(cam["evidence_url"])
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
