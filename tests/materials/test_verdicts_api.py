"""Material verdicts through the HTTP API on the real services: nothing failed or unchecked is usable without a
decision; retests, void and correct keep the trail and reverse or re-issue what followed; concrete per lot."""

from __future__ import annotations

import random
import uuid

import pytest

from backend.materials.tables import CreditEvent, LabReport, MaterialAlert
from backend.notifications.tables import Notification
from tests.materials.helpers import labels, new_batch, report, to_sampled, world
from tests.support.api import STAFF_PASSWORD, bearer, mp_login, new_uscc, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

GOOD_CEMENT = {"compressive_3d": 25, "compressive_28d": 48, "flexural_3d": 5, "flexural_28d": 8,
               "initial_setting_min": 150, "final_setting_min": 260, "soundness_ok": True}
USE = {"building": "2#楼", "floor": "5F", "element": "剪力墙 Q2"}


def _specimen(rng: random.Random, grade_rel: int = 400, **over) -> dict:
    """A realistic passing E-grade tensile specimen (values rounded as labs report them: Rm to 5 MPa, Agt 0.5 %)."""
    rel = rng.randint(grade_rel + 20, grade_rel + 90)
    rm = 5 * round(rel * rng.uniform(1.28, 1.40) / 5)
    return {"yield_strength": rel, "tensile_strength": rm, "max_force_elongation": rng.choice([10.0, 11.5, 12.5]),
            **over}


async def _use(api, w, bid):
    return await api.post(f"/api/v1/materials/batches/{bid}/uses", json=USE, headers=w["lead"])


async def _notices(dedup_prefix: str) -> list[dict]:
    return await Notification.select(Notification.recipient.username.as_alias("u"), Notification.body,
                                     Notification.dedup_key).where(Notification.dedup_key.like(f"{dedup_prefix}%"))


async def test_issue_19_examples_are_failures_and_blocked(api, admin):
    """GB 175-2023 7.4.1 setting times and GB/T 1499.2-2018 表6 Agt ≥ 7.5 %: the issue's two reports fail."""
    w = await world(api, admin)
    cement = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="袋装 50kg")
    await to_sampled(api, w, cement["id"])
    resp = await report(api, w, cement["id"], {"report_date": "2025-03-10", "cement": {
        **GOOD_CEMENT, "compressive_3d": 5, "initial_setting_min": 20, "final_setting_min": 900}})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["verdict"] == "fail" and body["batch_status"] == "non_conforming" and body["standard"] == "GB 175-2023"
    by = {r["property"]: r for r in body["results"]}
    assert by["initial_setting_min"]["result"] == "fail" and by["initial_setting_min"]["clause"] == "GB 175-2023 7.4.1"
    assert by["final_setting_min"]["result"] == "fail" and by["compressive_3d"]["result"] == "not_checked"
    assert_error(await _use(api, w, cement["id"]), 409, "BATCH_USE_BLOCKED")

    rebar = await new_batch(api, w, grade="HRB400", spec="Ø20")
    await to_sampled(api, w, rebar["id"])
    resp = await report(api, w, rebar["id"], {"report_date": "2025-03-10", "rebar": [
        {"yield_strength": 455, "tensile_strength": 610, "max_force_elongation": 3.0},
        {"yield_strength": 460, "tensile_strength": 615, "max_force_elongation": 11.0}]})
    agt = next(r for r in resp.json()["results"] if r["property"] == "max_force_elongation")
    assert agt["result"] == "fail" and agt["limit"] == 7.5 and resp.json()["verdict"] == "fail"
    assert resp.json()["batch_status"] == "retest_pending"
    assert_error(await _use(api, w, rebar["id"]), 409, "BATCH_USE_BLOCKED")


async def test_unchecked_items_need_a_named_supervisors_decision(api, admin):
    """A batch with items not checked is used only after the project's supervisor decides, with a reason
    (《建设工程质量管理条例》第三十七条); a later report lapses the decision."""
    w = await world(api, admin)
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5R", spec="散装")
    bid = batch["id"]
    await to_sampled(api, w, bid)
    resp = await report(api, w, bid, {"report_date": "2025-07-01", "cement": {**GOOD_CEMENT, "compressive_3d": 30}})
    assert resp.json()["verdict"] == "partial" and resp.json()["batch_status"] == "partially_checked"
    refused = assert_error(await _use(api, w, bid), 409, "BATCH_USE_NEEDS_DECISION")
    assert refused["detail"]["status"] == "partially_checked"

    path = f"/api/v1/materials/batches/{bid}/use-decisions"
    body = {"accept": True, "reason": "3天强度为2023版新指标，待厂家出具型式检验报告，28天强度已合格"}
    assert_error(await api.post(path, json=body, headers=w["lead"]), 403, "FORBIDDEN_ROLE")
    assert (await api.post(path, json=body, headers=w["lab_user"])).status_code == 403
    assert_error(await api.post(path, json={**body, "reason": "好"}, headers=w["sup"]), 400, "VALIDATION_ERROR")
    no = await api.post(path, json={"accept": False, "reason": "等待补充检测"}, headers=w["sup"])
    assert no.status_code == 201 and no.json()["usable"] is False
    assert_error(await _use(api, w, bid), 409, "BATCH_USE_NEEDS_DECISION")
    yes = await api.post(path, json=body, headers=w["sup"])
    assert yes.status_code == 201, yes.text
    d = yes.json()
    assert d["usable"] is True and d["decider_name"] and d["reason"] == body["reason"]
    assert [u["property"] for u in d["unchecked"]] == ["compressive_3d"]
    got = (await api.get(f"/api/v1/materials/batches/{bid}", headers=w["insp"])).json()
    assert got["usable"] is True and got["use_decision_id"] == d["id"]
    assert (await _use(api, w, bid)).status_code == 201

    # A second report changes what was decided on: the decision lapses, use waits for a new one.
    again = await report(api, w, bid, {"report_date": "2025-07-29", "cement": {**GOOD_CEMENT, "mgo_pct": 2.1}})
    assert again.json()["batch_status"] == "partially_checked"
    assert_error(await _use(api, w, bid), 409, "BATCH_USE_NEEDS_DECISION")
    trail = (await api.get(path, headers=w["insp"])).json()
    assert [x["lapsed"] for x in trail] == [True, True]  # the refusal was replaced, the acceptance lapsed
    kinds = [e["kind"] for e in (await api.get(f"/api/v1/materials/batches/{bid}/timeline", headers=w["insp"])).json()]
    assert kinds.count("use_decision") == 2 and "use_decision_lapsed" in kinds

    conforming = await new_batch(api, w)
    await to_sampled(api, w, conforming["id"])
    await report(api, w, conforming["id"], {"report_date": "2025-07-01",
                                            "rebar": [_specimen(random.Random(1)), _specimen(random.Random(2))]})
    assert_error(await api.post(f"/api/v1/materials/batches/{conforming['id']}/use-decisions", json=body,
                                headers=w["sup"]), 409, "BATCH_STATE")


async def test_rebar_retest_on_double_samples(api, admin):
    """GB/T 1499.2-2018 → GB/T 17505: a failed item is retested once on double the specimens; any failure in
    the retest fails the batch. The credit event waits for the final verdict."""
    w = await world(api, admin)
    rng = random.Random(19)
    batch = await new_batch(api, w, grade="HRB400E", spec="Ø32")
    bid = batch["id"]
    await to_sampled(api, w, bid)
    first = await report(api, w, bid, {"report_date": "2026-11-20", "rebar": [
        _specimen(rng), _specimen(rng, tensile_strength=520)]})
    fid = first.json()["id"]
    assert first.json()["verdict"] == "fail" and first.json()["batch_status"] == "retest_pending"
    failed = await _notices(f"material_failed:{fid}")
    assert failed and "可双倍复验" in failed[0]["body"]
    assert not await CreditEvent.select().where(CreditEvent.evidence == f"material_lab_report:{fid}")
    assert_error(await report(api, w, bid, {"report_date": "2026-11-21", "rebar": [_specimen(rng)] * 4}),
                 409, "BATCH_STATE")  # only the retest is taken now
    short = await report(api, w, bid, {"report_date": "2026-11-21", "retest_of": fid,
                                       "rebar": [_specimen(rng) for _ in range(3)]})
    assert assert_error(short, 400, "RETEST_NOT_ALLOWED")["detail"]["needed"] == 4
    retest = await report(api, w, bid, {"report_date": "2026-11-21", "retest_of": fid,
                                        "rebar": [_specimen(rng) for _ in range(4)]})
    assert retest.status_code == 201, retest.text
    assert retest.json()["verdict"] == "pass" and retest.json()["batch_status"] == "conforming"
    assert retest.json()["retest_of"] == fid
    assert await _notices(f"material_verdict:{bid}:report:{retest.json()['id']}")
    assert_error(await report(api, w, bid, {"report_date": "2026-11-22", "retest_of": fid,
                                            "rebar": [_specimen(rng) for _ in range(4)]}), 409, "RETEST_NOT_ALLOWED")
    assert (await _use(api, w, bid)).status_code == 201

    # A retest with one bad specimen fails the batch for good, and only then the credit event is recorded.
    other = await new_batch(api, w, grade="HRB400E", spec="Ø25")
    await to_sampled(api, w, other["id"])
    f2 = await report(api, w, other["id"], {"report_date": "2026-11-20", "rebar": [
        _specimen(rng, max_force_elongation=8.5), _specimen(rng)]})
    r2 = await report(api, w, other["id"], {"report_date": "2026-11-22", "retest_of": f2.json()["id"], "rebar": [
        _specimen(rng), _specimen(rng), _specimen(rng, max_force_elongation=8.5), _specimen(rng)]})
    assert r2.json()["verdict"] == "fail" and r2.json()["batch_status"] == "non_conforming"
    credit = await CreditEvent.select().where(CreditEvent.evidence == f"material_lab_report:{r2.json()['id']}")
    assert len(credit) == 1 and credit[0]["kind"] == "material_test_failed"

    cement = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="")
    await to_sampled(api, w, cement["id"])
    c1 = await report(api, w, cement["id"], {"report_date": "2025-05-01", "cement": {**GOOD_CEMENT,
                                                                                    "final_setting_min": 700}})
    assert c1.json()["batch_status"] == "non_conforming"  # GB 175 has no retest of a failed item
    assert_error(await report(api, w, cement["id"], {"report_date": "2025-05-02", "retest_of": c1.json()["id"],
                                                     "cement": GOOD_CEMENT}), 409, "BATCH_STATE")


async def test_rebar_elongation_allowance_through_the_api(api, admin):
    """GB/T 1499.2-2018 7.4.2: A of a Ø32 bar may be 1 % lower; the diameter comes from the batch's spec."""
    w = await world(api, admin)
    specimen = {"yield_strength": 445, "tensile_strength": 600, "elongation": 15.5}
    for spec, result, limit in (("Ø32", "pass", 15.0), ("Ø25", "fail", 16.0)):
        batch = await new_batch(api, w, grade="HRB400", spec=spec)
        await to_sampled(api, w, batch["id"])
        resp = await report(api, w, batch["id"], {"report_date": "2026-11-02", "elongation_type": "A",
                                                  "rebar": [specimen, specimen]})
        a = next(r for r in resp.json()["results"] if r["property"] == "elongation")
        assert (a["result"], a["limit"]) == (result, limit), a
        assert "max_force_elongation" not in {r["property"] for r in resp.json()["results"]}


async def test_void_and_correct_keep_the_trail_and_reverse_consequences(api, admin):
    """A lab voids or corrects its own report with a reason: the earlier verdict stays on the trail; the block,
    the credit event and the notices follow the reports that stand."""
    w = await world(api, admin)
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="")
    bid = batch["id"]
    await to_sampled(api, w, bid)
    bad = await report(api, w, bid, {"report_date": "2024-04-02", "cement": {**GOOD_CEMENT, "compressive_28d": 41.5}})
    rid = bad.json()["id"]
    assert bad.json()["batch_status"] == "non_conforming"
    [failed_event] = await CreditEvent.select().where(CreditEvent.evidence == f"material_lab_report:{rid}")

    assert_error(await api.post(f"/api/v1/materials/reports/{rid}/void", json={"reason": "录入错误：样品编号错"},
                                headers=w["lead"]), 403, "FORBIDDEN_ROLE")  # the route table: lab users only
    other_lab = await api.post("/api/v1/enterprises", headers=admin, json={
        "name": f"瓯海建设检测所{uuid.uuid4().hex[:4]}", "uscc": new_uscc(), "kinds": ["testing_lab"]})
    assert other_lab.status_code == 201, other_lab.text
    username = f"lab2_{uuid.uuid4().hex[:6]}"
    made = await api.post("/api/v1/users", headers=admin, json={
        "role": "supervisor", "display_name": "检测员吴工", "username": username, "password": STAFF_PASSWORD,
        "enterprise_id": other_lab.json()["id"]})
    assert made.status_code == 201, made.text
    assert_error(await api.post(f"/api/v1/materials/reports/{rid}/void", json={"reason": "别家想作废"},
                                headers=await staff_token(api, username)), 403, "REPORT_NOT_OWN_LAB")
    assert_error(await api.post(f"/api/v1/materials/reports/{uuid.uuid4()}/void", json={"reason": "录入错误"},
                                headers=w["lab_user"]), 404, "REPORT_NOT_FOUND")
    voided = await api.post(f"/api/v1/materials/reports/{rid}/void", json={"reason": "录入错误：样品编号错"},
                            headers=w["lab_user"])
    assert voided.status_code == 200, voided.text
    assert voided.json()["state"] == "voided" and voided.json()["verdict"] == "fail"  # the verdict is kept
    assert voided.json()["batch_status"] == "sampled"
    assert_error(await api.post(f"/api/v1/materials/reports/{rid}/void", json={"reason": "再次作废"},
                                headers=w["lab_user"]), 409, "REPORT_STATE")
    events = await CreditEvent.select().where(CreditEvent.evidence == f"material_lab_report:{rid}")
    reversal = next(e for e in events if e["kind"] == "material_test_failed_reversed")
    assert reversal["points"] == -failed_event["points"] and reversal["occurred_at"] == failed_event["occurred_at"]
    changed = await _notices(f"material_verdict:{bid}:void:{rid}")
    assert {"sup_li", "lead_wang", "lc_inspector"} <= {n["u"] for n in changed}
    timeline = (await api.get(f"/api/v1/materials/batches/{bid}/timeline", headers=w["insp"])).json()
    void_row = next(e for e in timeline if e["kind"] == "report_voided")
    assert void_row["detail"]["verdict_before"] == "fail" and void_row["detail"]["reason"] == "录入错误：样品编号错"
    assert next(e for e in timeline if e["kind"] == "reassess")["to"] == "sampled"

    # A failing report corrected to the right figures: superseded, the correction passes, the batch is usable.
    second = await report(api, w, bid, {"report_date": "2024-04-30", "cement": {**GOOD_CEMENT, "flexural_28d": 6.0}})
    sid = second.json()["id"]
    assert second.json()["batch_status"] == "non_conforming"
    corrected = await api.post(f"/api/v1/materials/reports/{sid}/correct", headers=w["lab_user"], json={
        "reason": "28天抗折强度抄录错误，原始记录为 8.0", "report": {
            "report_no": f"R{uuid.uuid4().hex[:12]}", "report_date": "2024-04-30", "cement": GOOD_CEMENT}})
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["supersedes"] == sid and corrected.json()["batch_status"] == "conforming"
    states = {r["id"]: r["state"] for r in (await api.get(f"/api/v1/materials/batches/{bid}/reports",
                                                          headers=w["insp"])).json()}
    assert states == {rid: "voided", sid: "superseded", corrected.json()["id"]: "active"}
    kinds = {e["kind"] for e in await CreditEvent.select().where(
        CreditEvent.evidence == f"material_lab_report:{sid}")}
    assert kinds == {"material_test_failed", "material_test_failed_reversed"}
    assert (await _use(api, w, bid)).status_code == 201
    assert await LabReport.count().where(LabReport.batch == bid) == 3  # nothing erased


async def test_concrete_is_assessed_per_inspection_lot(api, admin):
    """GB/T 50107-2010 3.0.2: one lot = one grade, mix and test age in one period; with < 10 groups the
    non-statistical method (5.2.2), with ≥ 10 the statistical one (5.1.3) — across the reports of the lot."""
    w = await world(api, admin)
    rng = random.Random(50107)
    mix = f"C30-PB-{uuid.uuid4().hex[:6]}"

    def cubes(centre: float) -> list[float]:
        return [round(centre + rng.uniform(-1.2, 1.2), 1) for _ in range(3)]

    first = await new_batch(api, w, material="concrete", grade="C30", spec="泵送 180mm")

    await to_sampled(api, w, first["id"])
    r1 = await report(api, w, first["id"], {"report_date": "2026-11-05", "concrete": {
        "mix_no": mix, "groups": [cubes(33.5) for _ in range(5)] + [[27.0, 32.0, 37.0]]}})  # the last group is void
    assert r1.status_code == 201, r1.text
    assert r1.json()["method"] == "non_statistical" and r1.json()["verdict"] == "fail"  # mean < 1.15·30
    assert "4.3.1" in r1.json()["results"][0]["note"]
    assert r1.json()["batch_status"] == "non_conforming"
    second = await new_batch(api, w, material="concrete", grade="C30", spec="泵送 180mm")
    await to_sampled(api, w, second["id"])
    r2 = await report(api, w, second["id"], {"report_date": "2026-11-20", "concrete": {
        "mix_no": mix, "groups": [cubes(33.5) for _ in range(5)]}})
    assert r2.json()["method"] == "statistical" and r2.json()["verdict"] == "pass"  # 10 groups: 5.1.3
    assert r2.json()["lot_key"] == r1.json()["lot_key"]
    assert r2.json()["batch_status"] == "conforming"
    again = (await api.get(f"/api/v1/materials/batches/{first['id']}", headers=w["insp"])).json()
    assert again["status"] == "conforming"  # the lot conforms, so does every batch in it
    assert {e["kind"] for e in await CreditEvent.select().where(
        CreditEvent.evidence == f"material_lab_report:{r1.json()['id']}")} == {
        "material_test_failed", "material_test_failed_reversed"}
    found = (await api.get("/api/v1/materials/concrete-lots", params={"project_id": w["project"]["id"]},
                           headers=w["insp"])).json()
    lot = next(x for x in found if x["mix_no"] == mix)
    assert lot["groups"] == 10 and lot["method"] == "statistical" and lot["age_days"] == 28
    assert set(lot["batch_ids"]) == {first["id"], second["id"]}
    assert lot["period_start"] == "2026-10-01" and lot["period_end"] == "2026-12-31"

    # Another mix is another lot; σ0 known with 3 groups → 5.1.2.
    third = await new_batch(api, w, material="concrete", grade="C30", spec="泵送 180mm")
    await to_sampled(api, w, third["id"])
    r3 = await report(api, w, third["id"], {"report_date": "2026-11-20", "concrete": {
        "mix_no": mix + "-B", "sigma0": 3.0, "groups": [34.0, 33.0, 35.0]}})
    assert r3.json()["method"] == "statistical_sigma0" and r3.json()["lot_key"] != r1.json()["lot_key"]
    assert {r["clause"] for r in r3.json()["results"]} == {"GB/T 50107-2010 5.1.2"}


async def test_scanning_a_failed_or_removed_batch_alerts_the_station(api, admin):
    """A failed batch's label scanned: outcome "failed" (not "ok"), an alert, and the station is told."""
    w = await world(api, admin)
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="袋装")
    bid = batch["id"]
    await to_sampled(api, w, bid)
    await report(api, w, bid, {"report_date": "2025-02-01", "cement": {**GOOD_CEMENT, "soundness_ok": False}})
    content = (await labels(api, w, bid))[0]["content"]
    citizen = bearer(await mp_login(api))
    scan = await api.post("/mp/v1/materials/scan", json={"content": content}, headers=citizen)
    body = scan.json()
    assert body["outcome"] == "failed" and body["alert"]["kind"] == "failed" and body["alert"]["repeat"] is False
    assert body["trace"]["batch"]["status"] == "non_conforming" and body["trace"]["batch"]["usable"] is False
    alert = await MaterialAlert.select().where(MaterialAlert.id == body["alert"]["id"]).first()
    assert alert["kind"] == "failed" and str(alert["batch"]) == bid
    told = await _notices(f"material_alert:{body['alert']['id']}")
    assert {"lc_inspector", "lc_admin"} <= {n["u"] for n in told} and "不合格" in told[0]["body"]
    repeat = (await api.post("/mp/v1/materials/scan", json={"content": content}, headers=citizen)).json()
    assert repeat["outcome"] == "failed" and repeat["alert"]["repeat"] is True

    await api.post(f"/api/v1/materials/batches/{bid}/removal", json={"reason": "安定性不合格，退场"}, headers=w["sup"])
    gone = (await api.post("/api/v1/materials/scan", json={"content": content}, headers=w["insp"])).json()
    assert gone["outcome"] == "removed" and gone["alert"]["kind"] == "removed"
    listed = (await api.get("/api/v1/materials/alerts", params={"kind": "removed"}, headers=w["insp"])).json()
    assert any(a["batch_id"] == bid for a in listed)


async def test_cement_3_day_and_28_day_reports_judged_together(api, admin):
    """GB 175-2007 7.3.3: strength at 3 and 28 days of one sample; the lab's two reports together pass."""
    w = await world(api, admin)
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="袋装")
    bid = batch["id"]
    await to_sampled(api, w, bid)
    early = {k: GOOD_CEMENT[k] for k in ("compressive_3d", "flexural_3d", "initial_setting_min", "final_setting_min",
                                          "soundness_ok")}
    r3 = await report(api, w, bid, {"report_date": "2024-03-04", "cement": early})
    assert r3.json()["verdict"] == "partial" and r3.json()["batch_status"] == "partially_checked"
    assert_error(await _use(api, w, bid), 409, "BATCH_USE_NEEDS_DECISION")
    r28 = await report(api, w, bid, {"report_date": "2024-03-29", "cement": {"compressive_28d": 47.5,
                                                                             "flexural_28d": 7.6}})
    assert r28.json()["verdict"] == "partial"  # alone it lacks the 3-day items
    assert r28.json()["batch_status"] == "conforming"  # together nothing is unchecked
    assert (await _use(api, w, bid)).status_code == 201
