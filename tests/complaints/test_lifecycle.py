"""The lifecycle: accept → start → resolve → confirm/rate, reject, reopen, merge, transfer, pause."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.complaints.helpers import photo, report
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def _resolve(api, headers, complaint_id):
    # Staff upload after-photos through the same media endpoint (any signed-in role may).
    result_photo = await photo(api, {"access_token": headers["Authorization"].split()[1]}, purpose="complaint_result")
    return await api.post(
        f"/api/v1/complaints/{complaint_id}/resolve",
        json={"notes": "已责令施工单位返工，现场复查合格", "photo_ids": [result_photo]}, headers=headers,
    )


async def test_full_path_to_closed_with_rating(api, admin):
    pair, complaint = await report(api, admin, 330302)
    cid = complaint["id"]
    lc_admin = await staff_token(api, "lc_admin")
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=lc_admin)).json()["status"] == "accepted"
    assert (await api.post(f"/api/v1/complaints/{cid}/start", headers=lc_admin)).json()["status"] == "in_progress"
    assert_error(await api.post(f"/api/v1/complaints/{cid}/accept", headers=lc_admin), 409, "COMPLAINT_STATE")
    assert_error(await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 5}, headers=bearer(pair)), 409, "COMPLAINT_STATE")
    resolved = await _resolve(api, lc_admin, cid)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and len(resolved.json()["result_photos"]) == 1
    view = (await api.get(f"/mp/v1/complaints/{cid}", headers=bearer(pair))).json()
    assert view["can_confirm"] and view["can_reopen"] and view["can_rate"]
    assert view["resolution_notes"].startswith("已责令")
    assert [e["kind"] for e in view["timeline"]] == ["submitted", "dispatched", "accept", "start", "resolve"]
    assert all(e["actor_name"] is None or e["kind"] != "submitted" for e in view["timeline"])
    closed = (await api.post(f"/mp/v1/complaints/{cid}/confirm", headers=bearer(pair))).json()
    assert closed["status"] == "closed" and closed["can_reopen"] is False
    rated = (await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 5, "comment": "处理及时"}, headers=bearer(pair))).json()
    assert rated["satisfaction"] == 5
    assert_error(await api.post(f"/mp/v1/complaints/{cid}/rating", json={"score": 6}, headers=bearer(pair)), 400, "VALIDATION_ERROR")
    # Photos are served to the citizen as short-lived signed URLs only.
    assert "X-Amz-Signature" in rated["photos"][0]["url"] and "Expires" in rated["photos"][0]["url"]


async def test_only_the_assignee_or_station_admin_acts(api, admin):
    _, complaint = await report(api, admin, 330302)
    staff = (await api.get(f"/api/v1/complaints/{complaint['id']}", headers=admin)).json()
    lw = await staff_token(api, "lw_inspector")
    assert_error(await api.post(f"/api/v1/complaints/{complaint['id']}/accept", headers=lw), 403, "FORBIDDEN_DISTRICT")
    lc = await staff_token(api, "lc_inspector")
    me = (await api.get("/api/v1/me", headers=lc)).json()
    if staff["assignee_id"] != me["id"]:
        assert_error(await api.post(f"/api/v1/complaints/{complaint['id']}/accept", headers=lc), 403, "NOT_ASSIGNEE")
    citizen = await mp_login(api)
    assert_error(await api.post(f"/api/v1/complaints/{complaint['id']}/accept", headers=bearer(citizen)), 403, "FORBIDDEN_ROLE")


async def test_reject_tells_the_citizen_why(api, admin, wechat_reset):
    pair, complaint = await report(api, admin, 330303)
    resp = await api.post(f"/api/v1/complaints/{complaint['id']}/reject", json={"reason": "属于物业维修范畴，非工程质量问题"}, headers=admin)
    assert resp.json()["status"] == "rejected"
    view = (await api.get(f"/mp/v1/complaints/{complaint['id']}", headers=bearer(pair))).json()
    assert view["reject_reason"] == "属于物业维修范畴，非工程质量问题"
    inbox = (await api.get("/mp/v1/inbox", headers=bearer(pair))).json()
    assert any("不予受理" in item["body"] for item in inbox["items"])


async def test_reopen_restarts_the_clock(api, admin):
    pair, complaint = await report(api, admin, 330302)
    cid = complaint["id"]
    await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)
    await _resolve(api, admin, cid)
    reopened = await api.post(f"/mp/v1/complaints/{cid}/reopen", json={"reason": "裂缝仍在扩大"}, headers=bearer(pair))
    assert reopened.status_code == 200 and reopened.json()["status"] == "reopened"
    assert datetime.fromisoformat(reopened.json()["deadline_at"]) > datetime.fromisoformat(complaint["deadline_at"])
    stranger = await mp_login(api)
    assert_error(await api.post(f"/mp/v1/complaints/{cid}/reopen", json={"reason": "我也不满意"}, headers=bearer(stranger)), 403, "FORBIDDEN_OWNER")
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)).json()["status"] == "accepted"


async def test_bounce_keeps_the_sla_clock(api, admin):
    _, complaint = await report(api, admin, 330302)
    cid = complaint["id"]
    lc_admin = await staff_token(api, "lc_admin")
    before = (await api.get(f"/api/v1/complaints/{cid}", headers=admin)).json()
    bounced = await api.post(
        f"/api/v1/complaints/{cid}/transfer", json={"reason": "工地位于龙湾区", "to_district_adcode": 330303, "not_ours": True},
        headers=lc_admin,
    )
    assert bounced.status_code == 200, bounced.text
    assert bounced.json()["district_adcode"] == 330303 and "timeline" not in bounced.json()  # no longer theirs
    after = (await api.get(f"/api/v1/complaints/{cid}", headers=admin)).json()
    assert after["deadline_at"] == before["deadline_at"] and after["submitted_at"] == before["submitted_at"]
    assert after["timeline"][-1]["kind"] == "bounced" and after["timeline"][-1]["reason"] == "工地位于龙湾区"
    lw = await staff_token(api, "lw_inspector")
    assert (await api.get(f"/api/v1/complaints/{cid}", headers=lw)).status_code == 200
    assert_error(await api.get(f"/api/v1/complaints/{cid}", headers=lc_admin), 403, "FORBIDDEN_DISTRICT")


async def test_pause_for_information_moves_the_deadline(api, admin):
    pair, complaint = await report(api, admin, 330302)
    cid = complaint["id"]
    await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)
    paused = (await api.post(f"/api/v1/complaints/{cid}/request-info", json={"reason": "请补充楼栋号和楼层"}, headers=admin)).json()
    assert paused["status"] == "waiting_info" and paused["paused"] is True
    import asyncio

    await asyncio.sleep(1.2)
    answered = await api.post(f"/mp/v1/complaints/{cid}/info", json={"message": "3号楼12层"}, headers=bearer(pair))
    assert answered.status_code == 200 and answered.json()["status"] == "accepted"
    moved = datetime.fromisoformat(answered.json()["deadline_at"]) - datetime.fromisoformat(complaint["deadline_at"])
    assert moved.total_seconds() >= 1.0
    assert_error(await api.post(f"/mp/v1/complaints/{cid}/info", json={"message": "再说一次"}, headers=bearer(pair)), 409, "COMPLAINT_STATE")


async def test_merge_duplicates(api, admin):
    first_pair, first = await report(api, admin, 330381)
    second_pair, second = await report(api, admin, 330381)
    merged = await api.post(f"/api/v1/complaints/{second['id']}/merge", json={"into_id": first["id"], "reason": "同一工地同一问题"}, headers=admin)
    assert merged.json()["status"] == "merged" and merged.json()["merged_into"] == first["id"]
    # The second citizen now follows the surviving report.
    theirs = (await api.get("/mp/v1/complaints", headers=bearer(second_pair))).json()
    assert {first["id"], second["id"]} <= {c["id"] for c in theirs["items"]}
    assert_error(await api.post(f"/api/v1/complaints/{first['id']}/merge", json={"into_id": first["id"], "reason": "自身合并"}, headers=admin), 400, "MERGE_SELF")
    staff = (await api.get(f"/api/v1/complaints/{first['id']}", headers=admin)).json()
    assert staff["supporters"] == 1


async def test_project_lead_sees_cases_about_the_site_without_the_citizen(api, admin):
    projects = (await api.get("/api/v1/projects?q=滨江", headers=admin)).json()["items"]
    pair, complaint = await report(api, admin, 330302, project_id=projects[0]["id"])
    lead = await staff_token(api, "lead_wang")
    resp = await api.get(f"/mp/v1/complaints/by-project/{projects[0]['id']}", headers=lead)
    assert resp.status_code == 200
    item = next(c for c in resp.json()["items"] if c["id"] == complaint["id"])
    assert set(item) == {"id", "number", "category", "status", "district_adcode", "assignee_id", "submitted_at", "deadline_at", "overdue", "description"}
    assert pair["user"]["id"] not in resp.text and "citizen" not in resp.text
    assert_error(await api.get(f"/mp/v1/complaints/{complaint['id']}", headers=lead), 403, "FORBIDDEN_OWNER")
    others = (await api.get("/api/v1/projects?q=瑞安", headers=admin)).json()["items"]
    assert_error(await api.get(f"/mp/v1/complaints/by-project/{others[0]['id']}", headers=lead), 403, "FORBIDDEN_OWNER")
    citizen = await mp_login(api)
    assert_error(await api.get(f"/mp/v1/complaints/by-project/{projects[0]['id']}", headers=bearer(citizen)), 403, "FORBIDDEN_ROLE")
