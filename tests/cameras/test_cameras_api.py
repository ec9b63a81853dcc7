"""Cameras end to end on the real services and the real vision worker process.

A local HTTP camera serves a generated scene with a worker without a helmet → one alert and one push
(inbox entry for the project lead); the same frame again within the window → no new alert. An upload
goes through the same analysis; the spacing verdict on the scene with known spacing matches the truth.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from backend.notifications.tables import Notification
from tests.cameras.scene import SnapshotCamera, scene, scene_jpeg
from tests.support.api import bearer, mp_login, new_permit, staff_token, subscribe
from tests.support.asserts import assert_error
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")
TIMEOUT = 90  # a loaded 2-core machine; the worker answers in well under a second when quiet


async def _project(api, admin, with_lead: bool = True) -> dict:
    district = (await api.get("/api/v1/districts/330302", headers=admin)).json()
    lng, lat = district["center"]
    leads = [(await api.get("/api/v1/me", headers=await staff_token(api, "lead_wang"))).json()["id"]] if with_lead else []
    resp = await api.post("/api/v1/projects", json={
        "name": "高支模监控测试项目", "permit_no": new_permit(),
        # 1.5 km off the district's centre, where other domains' tests look for their own projects nearby
        "location": {"lng": lng + 0.015, "lat": lat, "coord_type": "gcj02"}, "lead_user_ids": leads}, headers=admin)
    assert resp.status_code == 201, resp.text
    assert resp.json()["district_adcode"] == 330302
    return resp.json()


def _calibration() -> dict:
    t = scene().meta["target"]
    return {"kind": "target", "corners_px": t["corners_px"], "corners_m": t["corners_m"], "corner_sigma_px": 0.5}


async def _alerts(api, headers, project_id, **params) -> list[dict]:
    resp = await api.get("/api/v1/cameras/alerts", params={"project_id": project_id, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _lead_notifications(alert_ids: list[str]) -> list[dict]:
    """The project leads' notifications of these alerts (the station is told too: _station_notifications)."""
    return await Notification.select(Notification.recipient, Notification.template).where(
        Notification.dedup_key.is_in([f"camera-alert:{a}" for a in alert_ids])).where(
        Notification.recipient.role == "project_lead")


async def _station_notifications(alert_ids: list[str]) -> list[dict]:
    return await Notification.select(Notification.recipient, Notification.recipient.username.as_alias("username"),
                                     Notification.template).where(
        Notification.dedup_key.is_in([f"camera-alert:{a}" for a in alert_ids])).where(
        Notification.recipient.role.is_in(["inspector", "regulator_admin"]))


def _pushes(fake_wechat, alert_id: str) -> list[dict]:
    return [m for m in fake_wechat.messages() if m.get("page", "").endswith(f"id={alert_id}")]


async def test_http_camera_one_alert_one_push_then_none_within_the_window(
    api, admin, vision_worker, vision_model, fake_wechat, start_worker
):
    camera_server = SnapshotCamera(scene_jpeg())
    start_worker()  # the ARQ worker delivers the WeChat push
    try:
        project = await _project(api, admin)
        # lead_wang (openid demo-lead) allows site-risk messages in the mini-program: WeChat learns of the tap
        await subscribe(api, await mp_login(api, "demo-lead"), fake_wechat, "tmpl_vision_risk")
        lead = await staff_token(api, "lead_wang")
        resp = await api.post("/api/v1/cameras", json={
            "project_id": project["id"], "name": "1号塔吊摄像头", "source": "http_snapshot", "url": camera_server.url,
            "interval_s": 3600}, headers=lead)
        assert resp.status_code == 201, resp.text
        camera = resp.json()
        alerts = await eventually(lambda: _alerts(api, lead, project["id"]), timeout=TIMEOUT)
        assert alerts, vision_worker.log()[-3000:]
        assert [a["rule"] for a in alerts] == ["no_helmet"]  # no plan value: spacing is not checked
        alert = alerts[0]
        assert alert["camera_id"] == camera["id"] and alert["verdict"] == "fail" and alert["repeats"] == 0
        person = next(p for p in scene().meta["persons"] if not p["helmet"])
        box = alert["measured"][0]["box"]
        assert np.allclose(box, person["box"], atol=12 if not vision_model.oracle else 0.5), (box, person["box"])
        # one push to the project lead: one inbox notification (its WeChat receipt is queued for the ARQ worker)
        lead_id = (await api.get("/api/v1/me", headers=lead)).json()["id"]
        # (notify() runs just after the alert's transaction commits: the alert can be seen a moment before)
        told = await eventually(lambda: _lead_notifications([alert["id"]]), timeout=TIMEOUT)
        assert [(str(t["recipient"]), t["template"]) for t in told] == [(lead_id, "vision_risk")]
        # the district's station (鹿城区: lc_inspector, lc_admin) is told in the same transaction
        station = {t["username"] for t in await _station_notifications([alert["id"]])}
        assert {"lc_inspector", "lc_admin"} <= station and not any(u.startswith("lw_") for u in station), station
        pushes = await eventually(lambda: asyncio.to_thread(_pushes, fake_wechat, alert["id"]), timeout=TIMEOUT)
        pushes = [p for p in pushes if p["touser"] == "demo-lead"]  # lead_wang's openid
        assert len(pushes) == 1, pushes
        assert pushes[0]["template_id"] == "tmpl_vision_risk"
        inbox = await Notification.count().where(Notification.recipient == lead_id).where(
            Notification.subject_type == "camera_alert").where(Notification.subject_id.is_in([alert["id"]]))
        assert inbox == 1
        # the evidence image with the boxes drawn is in S3
        import httpx

        evidence = await asyncio.to_thread(httpx.get, alert["evidence_url"], timeout=10)
        assert evidence.status_code == 200 and evidence.content[:3] == b"\xff\xd8\xff"

        # the same frame again (a change makes the camera due at once): folded into the alert, nobody told again
        hits = camera_server.hits
        assert (await api.patch(f"/api/v1/cameras/{camera['id']}", json={"enabled": True}, headers=lead)).status_code == 200

        async def repeated():
            again = await _alerts(api, lead, project["id"])
            return again if again and again[0]["repeats"] >= 1 else None

        again = await eventually(repeated, timeout=TIMEOUT)
        assert again, vision_worker.log()[-3000:]
        assert camera_server.hits > hits
        assert [a["id"] for a in again] == [alert["id"]]
        assert len(await _lead_notifications([alert["id"]])) == 1
        await asyncio.sleep(1.0)  # a second push, if one were wrongly queued, would have gone by now
        assert len([p for p in _pushes(fake_wechat, alert["id"]) if p["touser"] == "demo-lead"]) == 1
        got = (await api.get(f"/api/v1/cameras/{camera['id']}", headers=lead)).json()
        assert got["last_frame_at"] is not None and got["last_error"] == ""
        # the worker's peak memory after real work (issue 8: under 600 MB, no torch)
        assert vision_worker.peak_rss_mb() < 600
    finally:
        camera_server.close()


def _truth_index(box: list[float]) -> int | None:
    """The labelled upright whose box centre is within 8 px of this box's centre."""
    cx = (box[0] + box[2]) / 2
    best = None
    for i, u in enumerate(scene().meta["uprights"]):
        if u["box"] is None:
            continue
        d = abs((u["box"][0] + u["box"][2]) / 2 - cx)
        if d < 8 and (best is None or d < best[0]):
            best = (d, i)
    return None if best is None else best[1]


async def test_upload_gives_the_spacing_verdict_of_the_known_scene(api, admin, vision_worker, vision_model):
    project = await _project(api, admin)
    lead = await staff_token(api, "lead_wang")
    plan = scene().meta["plan_spacing_m"]
    resp = await api.post("/api/v1/cameras", json={
        "project_id": project["id"], "name": "B区高支模", "source": "upload", "plan_spacing_m": plan,
        "plan_ref": "高支模专项方案 GZM-2026-031", "support_system": "cuplock_q235", "calibration": _calibration()},
        headers=lead)
    assert resp.status_code == 201, resp.text
    camera = resp.json()
    files = {"file": ("frame.jpg", scene_jpeg(), "image/jpeg")}
    up = await api.post(f"/api/v1/cameras/{camera['id']}/frames", params={"wait_s": 30}, files=files, headers=lead)
    assert up.status_code in (200, 202), up.text
    frame = up.json()
    if frame["status"] != "done":  # a slow machine: keep waiting through the GET
        frame = (await api.get(f"/api/v1/cameras/frames/{frame['id']}", params={"wait_s": 30}, headers=lead)).json()
    assert frame["status"] == "done", (frame, vision_worker.log()[-3000:])
    analysis = frame["analysis"]
    rules = {r["rule"]: r["verdict"] for r in analysis["rules"]}
    truth = {(s["left"], s["right"]): s["spacing_m"] for s in scene().meta["spacings"]}
    judged = []
    for bay in analysis["bays"]:
        key = (_truth_index(bay["left"]), _truth_index(bay["right"]))
        if key in truth:
            t = truth[key]
            judged.append((bay, t))
            # the stated tolerance: the truth lies in the band; the outcome never contradicts it
            assert bay["low_m"] <= t <= bay["high_m"], (bay, t)
            assert not (bay["outcome"] == "pass" and t > bay["limit_m"]), (bay, t)
            assert not (bay["outcome"] == "fail" and t <= bay["limit_m"]), (bay, t)
            assert bay["limit_m"] == pytest.approx(min(plan, 1.5))
    if vision_model.oracle:
        ups, width = scene().meta["uprights"], scene().meta["width"]
        inside = [k for k in truth if all(1 < ups[i]["box"][0] and ups[i]["box"][2] < width - 1 for i in k)]
        assert len(judged) == len(inside) == 3  # the bay cut by the right edge is not judged
        assert [b["outcome"] for b, _ in judged] == ["fail", "fail", "fail"]  # 1.126, 0.884, 1.494 m vs 0.75 m
        assert rules == {"no_helmet": "fail", "spacing": "fail"}
    else:
        assert judged, analysis["bays"]
    raised = frame["alerts"]
    alerts = await _alerts(api, lead, project["id"])
    assert sorted(a["id"] for a in alerts) == sorted(raised)

    async def all_told():
        told = await _lead_notifications([a["id"] for a in alerts])
        return told if len(told) == len(alerts) else None

    assert await eventually(all_told, timeout=TIMEOUT)
    assert {a["rule"] for a in alerts} == {r for r, v in rules.items() if v == "fail"}
    spacing = [a for a in alerts if a["rule"] == "spacing"]
    if spacing:
        assert all(b["outcome"] == "fail" for b in spacing[0]["measured"])
    # the same frame uploaded again within the window: analysed, but no new alert
    second = await api.post(f"/api/v1/cameras/{camera['id']}/frames", params={"wait_s": 30}, files=files, headers=lead)
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "done" and second.json()["alerts"] == []
    assert len(await _alerts(api, lead, project["id"])) == len(alerts)
    assert len(await _lead_notifications([a["id"] for a in alerts])) == len(alerts)


async def test_upload_and_registry_check_roles_district_and_owner(api, admin, vision_worker):
    project = await _project(api, admin)
    lead = await staff_token(api, "lead_wang")
    insp = await staff_token(api, "lc_inspector")
    body = {"project_id": project["id"], "name": "大门", "source": "upload"}
    citizen = bearer(await mp_login(api))
    assert_error(await api.post("/api/v1/cameras", json=body, headers=citizen), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post("/api/v1/cameras", json=body, headers=await staff_token(api, "lw_inspector")), 403,
                 "FORBIDDEN_DISTRICT")
    assert_error(await api.post("/api/v1/cameras", json=body, headers=await staff_token(api, "sup_li")), 403,
                 "FORBIDDEN_ROLE")
    created = await api.post("/api/v1/cameras", json=body, headers=insp)
    assert created.status_code == 201, created.text
    camera = created.json()
    assert_error(await api.post("/api/v1/cameras", json=body, headers=lead), 409, "CAMERA_DUPLICATE")
    files = {"file": ("frame.jpg", scene_jpeg(), "image/jpeg")}
    url = f"/api/v1/cameras/{camera['id']}/frames"
    assert_error(await api.post(url, files=files, headers=citizen), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(url, files=files, headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
    # a lead of another project only
    unled = await _project(api, admin, with_lead=False)
    other = (await api.post("/api/v1/cameras", json={**body, "project_id": unled["id"]}, headers=insp)).json()
    assert_error(await api.post(f"/api/v1/cameras/{other['id']}/frames", files=files, headers=lead), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get("/api/v1/cameras/alerts", params={"project_id": unled["id"]}, headers=lead), 403,
                 "FORBIDDEN_OWNER")
    assert_error(await api.put(f"/api/v1/cameras/{other['id']}/calibration", json=_calibration(), headers=lead), 403,
                 "FORBIDDEN_OWNER")
    # not an image
    bad = {"file": ("frame.jpg", b"GIF89a not a jpeg at all", "image/jpeg")}
    assert_error(await api.post(url, files=bad, headers=lead), 400, "IMAGE_REJECTED")
    # the frame of someone else's camera is not readable either
    done = await api.post(url, files=files, params={"wait_s": 0}, headers=lead)
    assert done.status_code in (200, 202), done.text
    frame_id = done.json()["id"]
    assert_error(await api.get(f"/api/v1/cameras/frames/{frame_id}", headers=citizen), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get(f"/api/v1/cameras/frames/{frame_id}", headers=await staff_token(api, "lw_inspector")),
                 403, "FORBIDDEN_DISTRICT")
    ok = await api.get(f"/api/v1/cameras/frames/{frame_id}", params={"wait_s": 30}, headers=insp)
    assert ok.status_code == 200 and ok.json()["status"] == "done", ok.text
    # no calibration and no plan value on this camera: the spacing rule says why it was not checked
    spacing = next(r for r in ok.json()["analysis"]["rules"] if r["rule"] == "spacing")
    assert spacing == {"rule": "spacing", "verdict": "not_checked", "reason": "no_plan_value"}


@pytest.mark.parametrize(
    ("patch", "status", "code"),
    [
        ({"source": "http_snapshot", "url": "ftp://cam.example/x.jpg"}, 400, "CAMERA_URL_INVALID"),
        ({"source": "http_snapshot", "url": ""}, 400, "CAMERA_URL_INVALID"),
        ({"source": "rtsp", "url": "http://cam.example/stream"}, 400, "CAMERA_URL_INVALID"),
        ({"source": "upload", "url": "http://cam.example/x.jpg"}, 400, "CAMERA_URL_INVALID"),
        ({"calibration": {"kind": "target", "corners_px": [[0, 0], [1, 0], [1, 1]], "corners_m": [[0, 0], [1, 0], [1, 1]]}},
         400, "CALIBRATION_INVALID"),
        ({"calibration": {"kind": "scale"}}, 400, "CALIBRATION_INVALID"),
        ({"calibration": {"kind": "tube", "widths_px": []}}, 400, "CALIBRATION_INVALID"),
        ({"plan_spacing_m": 0}, 400, "VALIDATION_ERROR"),
        ({"plan_spacing_m": 3.5}, 400, "VALIDATION_ERROR"),
        ({"interval_s": 4}, 400, "VALIDATION_ERROR"),
        ({"support_system": "bamboo"}, 400, "VALIDATION_ERROR"),
        ({"colour": "red"}, 400, "VALIDATION_ERROR"),
    ],
)
async def test_register_refuses_bad_input(api, admin, patch, status, code):
    project = await _project(api, admin)
    body = {"project_id": project["id"], "name": "校验", "source": "upload", **patch}
    assert_error(await api.post("/api/v1/cameras", json=body, headers=await staff_token(api, "lc_inspector")), status, code)


async def test_unknown_camera_and_frame(api, admin):
    insp = await staff_token(api, "lc_inspector")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(await api.get(f"/api/v1/cameras/{missing}", headers=insp), 404, "CAMERA_NOT_FOUND")
    assert_error(await api.get(f"/api/v1/cameras/frames/{missing}", headers=insp), 404, "FRAME_NOT_FOUND")


async def test_a_camera_that_answers_an_error_keeps_it_and_raises_nothing(api, admin, vision_worker):
    camera_server = SnapshotCamera(scene_jpeg())
    try:
        project = await _project(api, admin)
        insp = await staff_token(api, "lc_inspector")
        resp = await api.post("/api/v1/cameras", json={
            "project_id": project["id"], "name": "坏的摄像头", "source": "http_snapshot",
            "url": camera_server.url.replace("snapshot.jpg", "missing.jpg"), "interval_s": 3600}, headers=insp)
        assert resp.status_code == 201, resp.text

        async def failed():
            got = (await api.get(f"/api/v1/cameras/{resp.json()['id']}", headers=insp)).json()
            return got if got["last_error"] else None

        got = await eventually(failed, timeout=TIMEOUT)
        assert got and got["last_error"] == "fetch_failed", got  # never the remote's text
        assert got["last_frame_at"] is None
        assert await _alerts(api, insp, project["id"]) == []
    finally:
        camera_server.close()


async def test_concurrent_sightings_raise_one_alert(api, admin):
    """Two workers recording the same risk at once: the advisory lock lets exactly one raise it."""
    import asyncio
    from uuid import uuid4

    from backend.cameras import recording
    from backend.cameras.schemas import Analysis, DetectionOut, RuleResult
    from backend.settings import get_settings

    project = await _project(api, admin)
    insp = await staff_token(api, "lc_inspector")
    cam = (await api.post("/api/v1/cameras", json={"project_id": project["id"], "name": "并发", "source": "upload"},
                          headers=insp)).json()
    row = await recording.camera_for(cam["id"])
    person = DetectionOut(cls="person_no_helmet", box=[1.0, 2.0, 30.0, 90.0], confidence=0.9)
    analysis = Analysis(width=640, height=640, model="test", detections=[person], helmet=[person], bays=[],
                        rules=[RuleResult(rule="no_helmet", verdict="fail")], inference_ms=1.0)
    raised = await asyncio.gather(*(
        recording.record_analysis(get_settings(), None, row, analysis, "", uuid4(), pulled=True) for _ in range(6)))
    assert sorted(len(r) for r in raised) == [0, 0, 0, 0, 0, 1]
    alerts = await _alerts(api, insp, project["id"])
    assert len(alerts) == 1 and alerts[0]["repeats"] == 5
    assert len(await _lead_notifications([alerts[0]["id"]])) == 1
    assert {t["username"] for t in await _station_notifications([alerts[0]["id"]])} >= {"lc_inspector", "lc_admin"}
