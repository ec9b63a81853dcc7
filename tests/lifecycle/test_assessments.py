"""Third-party assessments feed credit with documented weights; key personnel certificates flagged when missing or expired."""

from __future__ import annotations

import pytest

from backend.lifecycle.assessments import composite, personnel_flags, points
from tests.lifecycle.helpers import GC, enterprise, people, planned_project
from tests.support.asserts import assert_error


@pytest.mark.parametrize(("q", "p", "e", "value", "pts"), [
    (85, 0.85, 0.85, 85.0, 0),  # neutral
    (90, 0.9, 0.9, 90.0, 1),
    (87.5, 0.875, 0.875, 87.5, 1),  # half away from zero
    (87.4, 0.874, 0.874, 87.4, 0),
    (100, 1, 1, 100.0, 3),  # capped at +3
    (60, 0.6, 0.6, 60.0, -5),
    (0, 0, 0, 0.0, -6),  # capped at -6
    (82.5, 0.825, 0.825, 82.5, -1),
])
def test_composite_and_points(q, p, e, value, pts):
    assert composite(q, p, e) == value
    assert points(composite(q, p, e)) == pts


def test_weights_apply_per_indicator():
    assert composite(100, 0, 0) == 50.0 and composite(0, 1, 0) == 30.0 and composite(0, 0, 1) == 20.0


def test_personnel_flags_boundaries():
    from datetime import date

    people_ = [{"role": "project_manager", "name": "王建国", "expires_on": date(2026, 12, 4)},
               {"role": "safety_officer", "name": "赵安", "expires_on": date(2026, 12, 3)}]
    flags = personnel_flags(people_, date(2026, 12, 4))
    assert [(f["role"], f["flag"]) for f in flags] == [("chief_supervisor", "missing"), ("safety_officer", "expired")]


@pytest.mark.asyncio(loop_scope="session")
async def test_assessment_moves_the_score_and_personnel_are_flagged(api, admin):
    p = await people(api)
    project = await planned_project(api, admin, status="under_construction")
    gc = await enterprise(api, admin, GC)
    before = (await api.get(f"/api/v1/credit/enterprises/{gc}", headers=admin)).json()
    body = {"enterprise_id": gc, "project_id": project["id"], "assessor": "浙江建科工程咨询有限公司",
            "period_start": "2026-07-01", "period_end": "2026-09-30", "quality_behaviour": 62.0,
            "personnel_certified_share": 0.5, "equipment_good_share": 0.7}
    assert_error(await api.post("/api/v1/assessments", json=body, headers=p["lead_wang"]), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post("/api/v1/assessments", json=body, headers=p["lw_inspector"]), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.post("/api/v1/assessments", json={**body, "period_end": "2026-06-30"}, headers=p["lc_inspector"]),
                 400, "ASSESSMENT_PERIOD_INVALID")
    other = await planned_project(api, admin, status="under_construction", supervised=False)
    supervision = await enterprise(api, admin, "91330381MA2GH7J8K6")  # 正衡监理: no party of `other`
    assert_error(await api.post("/api/v1/assessments", json={**body, "project_id": other["id"], "enterprise_id": supervision},
                                headers=p["lc_inspector"]), 400, "ASSESSMENT_NOT_A_PARTY")
    assert_error(await api.post("/api/v1/assessments", json={**body, "equipment_good_share": 1.2},
                                headers=p["lc_inspector"]), 400, "VALIDATION_ERROR")
    resp = await api.post("/api/v1/assessments", json=body, headers=p["lc_inspector"])
    assert resp.status_code == 201, resp.text
    a = resp.json()
    assert a["composite"] == 0.5 * 62 + 0.3 * 50 + 0.2 * 70 == 60.0 and a["points"] == -5
    after = (await api.get(f"/api/v1/credit/enterprises/{gc}", headers=admin)).json()
    [event] = [e for e in after["events"] if e["evidence"] == f"assessment:{a['id']}"]
    assert (event["kind"], event["points"], event["project_id"]) == ("assessment", -5, project["id"])
    if 5 <= before["status"]["score"] < 110:  # away from the clamp, the score moves by the event's points
        assert after["status"]["score"] == pytest.approx(before["status"]["score"] - 5, abs=0.11)
    listed = (await api.get("/api/v1/assessments", params={"enterprise_id": gc}, headers=p["lc_inspector"])).json()
    assert a["id"] in [x["id"] for x in listed]

    # Key personnel: none yet → three missing; one expired certificate is flagged and counted in the site view.
    url = f"/api/v1/projects/{project['id']}/key-personnel"
    empty = (await api.get(url, headers=p["lead_wang"])).json()
    assert sorted(f["role"] for f in empty["flags"]) == ["chief_supervisor", "project_manager", "safety_officer"]
    people_ = [{"role": "project_manager", "name": "王建国", "certificate_no": "浙1332020202100123", "expires_on": "2028-06-30"},
               {"role": "chief_supervisor", "name": "李监", "certificate_no": "33008765", "expires_on": "2027-01-31"},
               {"role": "safety_officer", "name": "赵安", "certificate_no": "浙建安C(2021)0012345", "expires_on": "2026-01-31"}]
    assert_error(await api.put(url, json={"people": people_}, headers=p["sup_li"]), 403, "FORBIDDEN_ROLE")
    assert_error(await api.put(url, json={"people": people_ + people_[:1]}, headers=p["lead_wang"]), 400,
                 "PERSONNEL_ROLE_TWICE")
    saved = await api.put(url, json={"people": people_}, headers=p["lead_wang"])
    assert saved.status_code == 200, saved.text
    assert [(f["role"], f["flag"], f["name"]) for f in saved.json()["flags"]] == [("safety_officer", "expired", "赵安")]
    assert [x["expired"] for x in saved.json()["people"]] == [False, False, True]
    site = (await api.get(f"/api/v1/projects/{project['id']}/site", headers=p["lc_inspector"])).json()
    assert [f["flag"] for f in site["personnel_flags"]] == ["expired"]
