"""One project through its whole life on the real services: gates refusing with each blocking item, then passing."""

from __future__ import annotations

from datetime import date

import pytest

from backend.materials.tables import CreditEvent
from tests.complaints.helpers import report
from tests.lifecycle.helpers import (
    batch,
    clock_body,
    inspection,
    people,
    photo,
    planned_project,
    rostered_worker,
    sensor_point,
)
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

SENSOR = {"metric": "wall_top_horizontal", "interval_s": 3600, "silent_after_missed": 3}


async def _move(api, project_id, headers, action, **extra):
    return await api.post(f"/api/v1/projects/{project_id}/stage", json={"action": action, **extra}, headers=headers)


async def _stage(api, project_id, headers) -> dict:
    resp = await api.get(f"/api/v1/projects/{project_id}/stage", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _spot_check(api, headers, project_id, passed, **extra):
    return await api.post("/api/v1/spot-checks", json={
        "project_id": project_id, "items": [{"name": "钢筋保护层厚度", "passed": passed, "note": "" if passed else "偏差超限"}],
        **extra}, headers=headers)


async def test_a_project_from_approval_to_filing(api, admin):
    p = await people(api)
    lead, sup, insp = p["lead_wang"], p["sup_li"], p["lc_inspector"]
    project = await planned_project(api, admin)
    pid = project["id"]
    stage = await _stage(api, pid, lead)
    assert stage["stage"] == "approved" and stage["next_actions"] == ["permit"] and stage["events"] == []

    # No site activity before the permit: clock-in, material entry, sensor registration.
    worker = await rostered_worker(api, admin, project)
    assert_error(await api.post("/mp/v1/workforce/clocks", json=await clock_body(api, project, worker), headers=worker), 409, "PROJECT_NO_PERMIT")
    assert_error(await batch(api, admin, project, lead), 409, "PROJECT_NO_PERMIT")
    point_id = await sensor_point(api, project, lead, sup)
    assert_error(await api.post(f"/api/v1/monitoring/points/{point_id}/sensors", json=SENSOR, headers=lead), 409,
                 "PROJECT_NO_PERMIT")

    # The permit is recorded by the district's station, with its number, date and authority.
    permit = {"permit_no": "330302202612040001", "issued_on": "2026-12-01", "authority": "温州市鹿城区住房和城乡建设局"}
    assert_error(await _move(api, pid, lead, "permit", permit=permit), 403, "FORBIDDEN_ROLE")
    assert_error(await _move(api, pid, p["lw_inspector"], "permit", permit=permit), 403, "FORBIDDEN_DISTRICT")
    assert_error(await _move(api, pid, insp, "permit"), 400, "PERMIT_REQUIRED")
    assert_error(await _move(api, pid, lead, "start"), 409, "STAGE_TRANSITION_REFUSED")
    assert_error(await _move(api, pid, insp, "launch"), 400, "STAGE_ACTION_UNKNOWN")
    moved = await _move(api, pid, insp, "permit", permit=permit, note="施工许可证已核发")
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "permitted"
    assert moved.json()["events"][0]["detail"] == {**permit, "permit_no": permit["permit_no"]}
    assert_error(await _move(api, pid, insp, "permit", permit=permit), 409, "STAGE_TRANSITION_REFUSED")
    assert (await api.get(f"/api/v1/projects/{pid}", headers=admin)).json()["stage"] == "permitted"
    listed = (await api.get("/api/v1/projects", params={"q": project["permit_no"]}, headers=admin)).json()["items"]
    assert [x["stage"] for x in listed] == ["permitted"]

    # Now the site may work.
    clocked = await api.post("/mp/v1/workforce/clocks", json=await clock_body(api, project, worker), headers=worker)
    assert clocked.status_code in (200, 201), clocked.text
    failed_batch = await batch(api, admin, project, lead)
    assert failed_batch.status_code == 201, failed_batch.text
    sensor = await api.post(f"/api/v1/monitoring/points/{point_id}/sensors", json=SENSOR, headers=lead)
    assert sensor.status_code == 201, sensor.text

    # Inspection requests need a started project; the lead starts it.
    assert_error(await inspection(api, project, lead, "foundation", "基础底板钢筋"), 409, "PROJECT_NOT_STARTED")
    assert_error(await _move(api, pid, sup, "start"), 403, "FORBIDDEN_ROLE")
    started = await _move(api, pid, lead, "start")
    assert started.status_code == 200 and started.json()["stage"] == "started", started.text
    assert (await api.get(f"/api/v1/projects/{pid}", headers=admin)).json()["status"] == "under_construction"

    # Open items: a batch rejected at entry, an active quality hold, an open complaint, an unanswered request
    # and a failed one not yet re-requested.
    bid = failed_batch.json()["id"]
    rejected = await api.post(f"/api/v1/materials/batches/{bid}/entry-inspection",
                              json={"accepted": False, "note": "外观锈蚀严重"}, headers=sup)
    assert rejected.status_code == 200 and rejected.json()["status"] == "entry_rejected", rejected.text
    first = (await _spot_check(api, insp, pid, False)).json()
    second = (await _spot_check(api, insp, pid, False, reinspection_of=first["id"])).json()
    assert len(second["holds_started"]) == 1
    hold_id = second["holds_started"][0] if isinstance(second["holds_started"][0], str) else second["holds_started"][0]["id"]
    _, complaint = await report(api, admin, 330302, project_id=pid)
    pic = await photo(api, lead)
    open_req = await inspection(api, project, lead, "foundation", "基础底板钢筋", [pic])
    assert open_req.status_code == 201, open_req.text
    assert open_req.json()["photo_ids"] == [pic] and open_req.json()["status"] == "submitted"
    failing = (await inspection(api, project, lead, "foundation", "承台模板")).json()
    # Only the project's supervisor answers; the lead may not.
    assert_error(await api.post(f"/api/v1/inspection-requests/{failing['id']}/answer", json={"passed": True},
                                headers=lead), 403, "FORBIDDEN_ROLE")
    answered = await api.post(f"/api/v1/inspection-requests/{failing['id']}/answer",
                              json={"passed": False, "findings": "模板拼缝不严，支撑间距超限"}, headers=sup)
    assert answered.status_code == 200 and answered.json()["status"] == "failed", answered.text
    assert_error(await api.post(f"/api/v1/inspection-requests/{failing['id']}/answer", json={"passed": True},
                                headers=sup), 409, "INSPECTION_TRANSITION_REFUSED")
    structure_req = (await inspection(api, project, lead, "structure", "二层柱钢筋")).json()  # not this stage's

    assert_error(await _move(api, pid, lead, "accept_foundation"), 403, "FORBIDDEN_ROLE")
    refused = assert_error(await _move(api, pid, sup, "accept_foundation"), 409, "STAGE_GATE_BLOCKED")
    blocking = refused["detail"]["blocking"]
    assert sorted((b["kind"], b["id"]) for b in blocking) == sorted([
        ("material_batch_failed", bid), ("quality_hold_active", hold_id), ("complaint_open", complaint["id"]),
        ("inspection_open", open_req.json()["id"]), ("inspection_open", failing["id"])])
    assert structure_req["id"] not in {b["id"] for b in blocking}
    for item in blocking:  # each link leads to the item
        assert (await api.get(item["link"], headers=admin)).status_code == 200, item
    assert {b["id"] for b in (await _stage(api, pid, sup))["blocking"]} == {b["id"] for b in blocking}

    # Resolve them one by one; the gate opens only when none is left.
    removed = await api.post(f"/api/v1/materials/batches/{bid}/removal", json={"reason": "不合格钢筋已退场"}, headers=sup)
    assert removed.status_code == 200, removed.text
    assert (await _spot_check(api, insp, pid, True, reinspection_of=second["id"])).status_code == 201
    # lifted by a regulator admin who did not re-inspect (two people, issue 19)
    lifted = await api.post(f"/api/v1/quality-holds/{hold_id}/lift", json={"reason": "复查合格，整改到位"}, headers=p["admin"])
    assert lifted.status_code == 200, lifted.text
    rej = await api.post(f"/api/v1/complaints/{complaint['id']}/reject", json={"reason": "经核查属相邻地块施工"}, headers=admin)
    assert rej.status_code == 200, rej.text
    ok = await api.post(f"/api/v1/inspection-requests/{open_req.json()['id']}/answer",
                        json={"passed": True, "findings": "符合 GB 50204 要求"}, headers=sup)
    assert ok.status_code == 200 and ok.json()["late"] is False, ok.text
    still = assert_error(await _move(api, pid, sup, "accept_foundation"), 409, "STAGE_GATE_BLOCKED")
    assert [b["id"] for b in still["detail"]["blocking"]] == [failing["id"]]

    # A failure needs a re-request; failing again counts against the general contractor.
    again = await api.post(f"/api/v1/inspection-requests/{failing['id']}/resubmit",
                           json={"description": "已整改，重新报验"}, headers=lead)
    assert again.status_code == 201 and again.json()["previous_id"] == failing["id"], again.text
    assert (await api.get(f"/api/v1/inspection-requests/{failing['id']}", headers=lead)).json()["status"] == "resubmitted"
    assert_error(await api.post(f"/api/v1/inspection-requests/{failing['id']}/resubmit", json={}, headers=lead), 409,
                 "INSPECTION_TRANSITION_REFUSED")
    refail = await api.post(f"/api/v1/inspection-requests/{again.json()['id']}/answer",
                            json={"passed": False, "findings": "支撑间距仍超限"}, headers=sup)
    assert refail.status_code == 200, refail.text
    repeat = await CreditEvent.select().where(CreditEvent.evidence == f"inspection:{again.json()['id']}:failed")
    assert [(str(r["enterprise"]), r["kind"]) for r in repeat] == [(project["gc"], "inspection_failed_repeat")]
    third = (await api.post(f"/api/v1/inspection-requests/{again.json()['id']}/resubmit", json={}, headers=lead)).json()
    assert (await api.post(f"/api/v1/inspection-requests/{third['id']}/answer", json={"passed": True},
                           headers=sup)).status_code == 200

    # The station audits an answer: overturning the pass reopens the gate's item.
    assert_error(await api.post(f"/api/v1/inspection-requests/{third['id']}/audit",
                                json={"uphold": False, "note": "抽查发现支撑未整改"}, headers=sup), 403, "FORBIDDEN_ROLE")
    over = await api.post(f"/api/v1/inspection-requests/{third['id']}/audit",
                          json={"uphold": False, "note": "抽查发现支撑未整改"}, headers=insp)
    assert over.status_code == 200 and over.json()["status"] == "failed", over.text
    assert [b["id"] for b in (await _stage(api, pid, sup))["blocking"]] == [third["id"]]
    fourth = (await api.post(f"/api/v1/inspection-requests/{third['id']}/resubmit", json={}, headers=lead)).json()
    assert (await api.post(f"/api/v1/inspection-requests/{fourth['id']}/answer", json={"passed": True},
                           headers=sup)).status_code == 200
    upheld = await api.post(f"/api/v1/inspection-requests/{fourth['id']}/audit",
                            json={"uphold": True, "note": "复核合格"}, headers=insp)
    assert upheld.json()["status"] == "passed" and upheld.json()["audit_verdict"] == "uphold"
    assert [e["kind"] for e in upheld.json()["events"]] == ["submitted", "passed", "audit_uphold"]

    accepted = await _move(api, pid, sup, "accept_foundation", note="地基与基础分部工程验收合格")
    assert accepted.status_code == 200 and accepted.json()["stage"] == "foundation_accepted", accepted.text

    # 主体结构: the structure request still waits.
    refused = assert_error(await _move(api, pid, sup, "accept_structure"), 409, "STAGE_GATE_BLOCKED")
    assert [b["id"] for b in refused["detail"]["blocking"]] == [structure_req["id"]]
    await api.post(f"/api/v1/inspection-requests/{structure_req['id']}/answer", json={"passed": True}, headers=sup)
    assert (await _move(api, pid, sup, "accept_structure")).json()["stage"] == "structure_accepted"

    # 竣工验收 by the station, then 备案 by a regulator admin only.
    assert_error(await _move(api, pid, sup, "accept_completion"), 403, "FORBIDDEN_ROLE")
    done = await _move(api, pid, insp, "accept_completion")
    assert done.status_code == 200 and done.json()["stage"] == "completion_accepted", done.text
    assert (await api.get(f"/api/v1/projects/{pid}", headers=admin)).json()["status"] == "completed"
    assert_error(await _move(api, pid, insp, "file"), 403, "FORBIDDEN_ROLE")
    filed = await _move(api, pid, admin, "file", note="竣工验收备案")
    assert filed.status_code == 200, filed.text
    body = filed.json()
    assert body["stage"] == "filed" and body["next_actions"] == []
    assert [(e["action"], e["actor_role"]) for e in body["events"]] == [
        ("permit", "inspector"), ("start", "project_lead"), ("accept_foundation", "supervisor"),
        ("accept_structure", "supervisor"), ("accept_completion", "inspector"), ("file", "regulator_admin")]
    assert date.fromisoformat(body["events"][0]["detail"]["issued_on"]) == date(2026, 12, 1)


async def test_a_project_registered_under_construction_works_at_once(api, admin):
    p = await people(api)
    project = await planned_project(api, admin, status="under_construction")
    assert (await _stage(api, project["id"], p["lead_wang"]))["stage"] == "started"
    assert (await batch(api, admin, project, p["lead_wang"])).status_code == 201


async def test_who_may_read_and_answer(api, admin):
    p = await people(api)
    unsupervised = await planned_project(api, admin, status="under_construction", supervised=False)
    req = (await inspection(api, unsupervised, p["lead_wang"], "foundation", "桩基钢筋笼")).json()
    # sup_li's enterprise is no party of this project: neither reads nor answers.
    assert_error(await api.get(f"/api/v1/projects/{unsupervised['id']}/stage", headers=p["sup_li"]), 403, "FORBIDDEN_OWNER")
    assert_error(await api.post(f"/api/v1/inspection-requests/{req['id']}/answer", json={"passed": True},
                                headers=p["sup_li"]), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(f"/api/v1/inspection-requests/{req['id']}", headers=p["lw_inspector"]), 403,
                 "FORBIDDEN_DISTRICT")
    assert_error(await api.post(f"/api/v1/inspection-requests/{req['id']}/audit", json={"uphold": True, "note": "复核"},
                                headers=p["lw_inspector"]), 403, "FORBIDDEN_DISTRICT")
    listed = await api.get("/api/v1/inspection-requests", params={"project_id": unsupervised["id"]}, headers=p["lc_inspector"])
    assert [r["id"] for r in listed.json()] == [req["id"]]
    bad = await api.post("/api/v1/inspection-requests", json={"project_id": unsupervised["id"], "stage": "roof",
                                                              "lot": "屋面", "location": "屋顶"}, headers=p["lead_wang"])
    assert_error(bad, 400, "VALIDATION_ERROR")
