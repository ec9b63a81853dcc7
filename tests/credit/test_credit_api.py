"""Credit on the real services: events from each domain, list entry/exit with notice and appeal, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import httpx
import pytest

from backend.credit import service
from backend.credit.jobs import credit_recompute
from backend.db import utcnow
from backend.notifications import delivery
from backend.notifications.tables import WebhookDelivery
from backend.settings import get_settings
from tests.complaints.helpers import photo
from tests.complaints.helpers import report as complaint_report
from tests.credit.helpers import credit, enterprise, enterprise_user, manual, score
from tests.materials.helpers import new_batch, to_sampled, world
from tests.materials.helpers import report as lab_report
from tests.materials.test_api import GOOD_CEMENT
from tests.notifications.test_webhooks import Receiver
from tests.support.api import staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_spot_checks import GC, LABOUR, _check, _enterprise, _project

pytestmark = pytest.mark.asyncio


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


async def test_failed_material_report_deducts_five_from_the_manufacturer(api, admin):
    w = await world(api, admin)
    before = await score(api, admin, w["manufacturer"])
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="袋装 50kg")
    await to_sampled(api, w, batch["id"])
    resp = await lab_report(api, w, batch["id"], {"report_date": "2024-05-31", "cement": {**GOOD_CEMENT, "compressive_3d": 16.9}})
    assert resp.status_code == 201 and resp.json()["verdict"] == "fail", resp.text
    after = await credit(api, admin, w["manufacturer"])
    assert after["status"]["score"] == pytest.approx(max(0, before - 5), abs=0.11)
    assert after["events"][0]["kind"] == "material_test_failed" and after["events"][0]["points"] == -5
    assert after["events"][0]["evidence"] == f"material_lab_report:{resp.json()['id']}"
    assert after["history"][0]["cause"] == f"event:{after['events'][0]['id']}"


async def test_spot_check_failures_and_the_hold_deduct_from_the_subcontractor(api, admin):
    labour = await _enterprise(api, admin, LABOUR)
    project = await _project(api, admin)
    insp = await staff_token(api, "lc_inspector")
    before = await score(api, admin, labour)
    first = await _check(api, insp, project["id"], passed=False)
    assert first.status_code == 201, first.text
    assert await score(api, admin, labour) == pytest.approx(max(0, before - 3), abs=0.11)
    second = (await _check(api, insp, project["id"], passed=False, reinspection_of=first.json()["id"])).json()
    assert len(second["holds_started"]) == 1
    after = await credit(api, admin, labour)
    assert after["status"]["score"] == pytest.approx(max(0, before - 16), abs=0.11)  # 3 + 3 + hold 10
    kinds = [e["kind"] for e in after["events"][:3]]
    assert sorted(kinds) == ["quality_hold", "spot_check_failed", "spot_check_failed"]
    passed = await _check(api, insp, project["id"], passed=True)
    assert passed.status_code == 201 and await score(api, admin, labour) == after["status"]["score"]


async def test_handled_complaint_about_a_project_deducts_from_the_general_contractor(api, admin):
    project = await _project(api, admin)
    gc = await _enterprise(api, admin, GC)
    before = await score(api, admin, gc)
    _, complaint = await complaint_report(api, admin, 330302, project_id=project["id"])
    lc_admin = await staff_token(api, "lc_admin")
    cid = complaint["id"]
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=lc_admin)).status_code == 200
    assert (await api.post(f"/api/v1/complaints/{cid}/start", headers=lc_admin)).status_code == 200
    result_photo = await photo(api, {"access_token": lc_admin["Authorization"].split()[1]}, purpose="complaint_result")
    resolved = await api.post(f"/api/v1/complaints/{cid}/resolve",
                              json={"notes": "已责令施工单位返工，现场复查合格", "photo_ids": [result_photo]}, headers=lc_admin)
    assert resolved.status_code == 200, resolved.text
    after = await credit(api, admin, gc)
    assert after["status"]["score"] == pytest.approx(max(0, before - 2), abs=0.11)
    assert any(e["evidence"] == f"complaint:{cid}" and e["kind"] == "complaint_substantiated" for e in after["events"])


async def test_unacknowledged_alarm_hook_deducts_four_once(api, admin):
    ent = await enterprise(api, admin)
    alarm = f"alarm:{uuid.uuid4()}"
    first = await service.record_event(uuid.UUID(ent["id"]), "alarm_unacknowledged", alarm, settings=get_settings(), arq=None)
    again = await service.record_event(uuid.UUID(ent["id"]), "alarm_unacknowledged", alarm, settings=get_settings(), arq=None)
    assert first is not None and again is None  # idempotent per evidence
    assert await score(api, admin, ent["id"]) == 96.0
    assert (await credit(api, admin, ent["id"]))["status"]["band"] == "A"


async def test_black_list_by_score_with_notice_appeal_and_exit(api, admin, receiver):
    hook = await api.post("/api/v1/webhooks", json={"name": "公共资源交易", "department": "市公共资源交易中心",
                                                     "url": receiver.url, "templates": ["credit_list_changed"]}, headers=admin)
    assert hook.status_code == 201, hook.text
    secret, hook_id = hook.json()["secret"], uuid.UUID(hook.json()["webhook"]["id"])
    ent = await enterprise(api, admin)
    eid = ent["id"]
    assert (await manual(api, admin, eid, "manual_deduction", -30)).status_code == 201
    assert (await credit(api, admin, eid))["status"]["lists"] == []  # 70: not yet
    assert (await manual(api, admin, eid, "manual_deduction", -15)).status_code == 201
    status = (await credit(api, admin, eid))["status"]
    assert status["score"] == 55.0 and status["band"] == "D"
    [listing] = status["lists"]
    assert listing["list_kind"] == "black" and listing["status"] == "notice"
    assert status["black_listed"] is False and status["restrictions"] == []  # not in effect during the notice period

    # The enterprise appeals during the notice period; a regulator turns it down: back to the notice.
    ent_user = await enterprise_user(api, admin, eid)
    other_user = await enterprise_user(api, admin, (await enterprise(api, admin))["id"])
    assert_error(await api.post(f"/api/v1/credit/listings/{listing['id']}/appeals", json={"reason": "扣分依据有误"},
                                headers=other_user), 403, "FORBIDDEN_OWNER")
    appeal = await api.post(f"/api/v1/credit/listings/{listing['id']}/appeals", json={"reason": "扣分依据有误，请复核"},
                            headers=ent_user)
    assert appeal.status_code == 201, appeal.text
    assert_error(await api.post(f"/api/v1/credit/listings/{listing['id']}/appeals", json={"reason": "再次申诉一下"},
                                headers=ent_user), 409, "CREDIT_LISTING_STATE")
    insp = await staff_token(api, "lc_inspector")
    decision = {"upheld": False, "note": "经复核扣分依据充分"}
    assert_error(await api.post(f"/api/v1/credit/appeals/{appeal.json()['id']}/decision", json=decision, headers=insp),
                 403, "FORBIDDEN_ROLE")
    decided = await api.post(f"/api/v1/credit/appeals/{appeal.json()['id']}/decision", json=decision, headers=admin)
    assert decided.status_code == 200 and decided.json()["status"] == "rejected", decided.text
    assert (await credit(api, admin, eid))["status"]["lists"][0]["status"] == "notice"

    # The notice period ends: the listing takes effect; departments see the restrictions.
    took = await service.take_effect_due(get_settings(), None, utcnow() + timedelta(days=get_settings().CREDIT_NOTICE_DAYS, seconds=1))
    assert took >= 1
    status = (await credit(api, admin, eid))["status"]
    assert status["black_listed"] is True and status["restricted_since"] is not None
    assert "bidding_restricted" in {r["code"] for r in status["restrictions"]}

    # Bonuses alone cannot lift it (issue 19 build 5): capped at 10 points a year, and the exit at 70 is counted
    # without them. 65 with the bonus, 55 without: still listed; a second bonus is refused by the cap.
    assert (await manual(api, admin, eid, "manual_bonus", 10)).status_code == 201
    assert (await credit(api, admin, eid))["status"]["black_listed"] is True
    assert_error(await manual(api, admin, eid, "manual_bonus", 10), 409, "CREDIT_BONUS_CAP")
    # Time heals what it should: 200 days later the deductions weigh 45 x 165/365 ≈ 20: 79.7 earned, it leaves.
    later = utcnow() + timedelta(days=200)
    await service.recompute(uuid.UUID(eid), "recompute", settings=get_settings(), arq=None, now=later)
    status = (await credit(api, admin, eid))["status"]
    assert status["lists"] == [] and status["restrictions"] == []
    detail = (await api.get(f"/api/v1/credit/listings/{listing['id']}", headers=admin)).json()
    assert [t["action"] for t in detail["timeline"]] == ["propose", "appeal", "reject_appeal", "take_effect", "remove"]
    assert detail["listing"]["status"] == "removed" and detail["appeals"][0]["status"] == "rejected"

    # One signed webhook per change, retried when the department's endpoint fails.
    # (other tests' listings may change meanwhile too: take_effect_due moves every listing that is due)
    pending = await WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.payload).where(
        (WebhookDelivery.webhook == hook_id) & (WebhookDelivery.status == "pending")
    ).order_by(WebhookDelivery.created_at).output(load_json=True)
    ids = [r["id"] for r in pending if r["payload"]["data"]["uscc"] == ent["uscc"]]
    assert len(ids) == 5
    receiver.fail_first = 1
    async with httpx.AsyncClient() as http:
        first = await delivery.deliver_webhooks(ids, settings=get_settings(), http=http)
        assert first == {"sent": 4, "retrying": 1}
        await WebhookDelivery.update({WebhookDelivery.next_attempt_at: None}).where(WebhookDelivery.id.is_in(ids))
        assert await delivery.deliver_webhooks(ids, settings=get_settings(), http=http) == {"sent": 1}
    ours = [(h, b) for h, b in receiver.received if json.loads(b)["data"]["uscc"] == ent["uscc"]]
    assert len(ours) == 6
    statuses = set()
    for headers, body in ours:
        expected = hmac.new(secret.encode(), headers["X-Zhijian-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-Zhijian-Signature"] == f"sha256={expected}"
        payload = json.loads(body)
        assert payload["event"] == "credit_list_changed" and payload["data"]["uscc"] == ent["uscc"]
        statuses.add(payload["data"]["status"])
    assert statuses == {"notice", "appealed", "active", "removed"}
    log = (await api.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=admin)).json()
    assert sorted(d["attempts"] for d in log if d["id"] in {str(i) for i in ids}) == [1, 1, 1, 1, 2]


async def test_serious_violation_black_lists_and_an_upheld_appeal_withdraws(api, admin):
    ent = await enterprise(api, admin)
    lc_admin = await staff_token(api, "lc_admin")
    assert_error(await manual(api, lc_admin, ent["id"], "serious_violation"), 403, "FORBIDDEN_ROLE")  # city-wide only
    assert_error(await manual(api, admin, ent["id"], "manual_bonus", -3), 400, "CREDIT_POINTS_SIGN")
    assert (await manual(api, admin, ent["id"], "serious_violation")).status_code == 201
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["score"] == 80.0 and status["lists"][0]["list_kind"] == "black"
    user = await enterprise_user(api, admin, ent["id"])
    appeal = (await api.post(f"/api/v1/credit/listings/{status['lists'][0]['id']}/appeals",
                             json={"reason": "该行为已由法院撤销认定"}, headers=user)).json()
    decided = await api.post(f"/api/v1/credit/appeals/{appeal['id']}/decision",
                             json={"upheld": True, "note": "申诉成立，撤销列入"}, headers=admin)
    assert decided.json()["status"] == "upheld"
    assert (await credit(api, admin, ent["id"]))["status"]["lists"] == []
    assert_error(await api.post(f"/api/v1/credit/appeals/{appeal['id']}/decision",
                                json={"upheld": False, "note": "再次处理一下"}, headers=admin), 409, "CREDIT_APPEAL_DECIDED")


async def test_red_list_entry_and_exit_on_a_deduction(api, admin):
    ent = await enterprise(api, admin)
    assert (await manual(api, admin, ent["id"], "manual_bonus")).status_code == 201  # +3 → 103
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["score"] == 103.0 and status["lists"][0]["list_kind"] == "red"
    await service.take_effect_due(get_settings(), None, utcnow() + timedelta(days=8))
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["red_listed"] is True and {r["code"] for r in status["restrictions"]} == {"fewer_spot_checks", "fast_track"}
    await service.record_event(uuid.UUID(ent["id"]), "complaint_substantiated", f"complaint:{uuid.uuid4()}",
                               settings=get_settings(), arq=None)
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["red_listed"] is False and status["lists"] == []


async def test_periodic_job_applies_decay(api, admin):
    ent = await enterprise(api, admin)
    await service.record_event(uuid.UUID(ent["id"]), "quality_hold", f"quality_hold:{uuid.uuid4()}",
                               settings=get_settings(), arq=None, occurred_at=utcnow() - timedelta(days=10))
    assert await score(api, admin, ent["id"]) == pytest.approx(90 + 10 * 10 / 365, abs=0.06)
    # Age the event half a year: the cron's rescoring moves the score without any new event.
    from backend.materials.tables import CreditEvent

    await CreditEvent.update({CreditEvent.occurred_at: utcnow() - timedelta(days=182.5)}).where(
        CreditEvent.enterprise == uuid.UUID(ent["id"]))
    result = await credit_recompute({"settings": get_settings(), "redis": None})
    assert result["rescored"] >= 1
    data = await credit(api, admin, ent["id"])
    assert data["status"]["score"] == 95.0 and data["history"][0]["cause"] == "recompute"


async def test_roles(api, admin):
    ent = await enterprise(api, admin)
    insp = await staff_token(api, "lc_inspector")
    assert_error(await manual(api, insp, ent["id"], "manual_deduction"), 403, "FORBIDDEN_ROLE")
    other = await enterprise(api, admin, district=330381)
    lc_admin = await staff_token(api, "lc_admin")
    assert_error(await manual(api, lc_admin, other["id"], "manual_deduction"), 403, "FORBIDDEN_DISTRICT")
    assert (await manual(api, lc_admin, ent["id"], "manual_deduction", -2)).status_code == 201
    user = await enterprise_user(api, admin, ent["id"])
    assert_error(await api.get("/api/v1/credit/listings", headers=user), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get(f"/api/v1/credit/enterprises/{ent['id']}", headers=user), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post("/api/v1/credit/recompute", headers=lc_admin), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/credit/audit", headers=lc_admin), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/credit/listings"), 401, "AUTH_REQUIRED")
    assert (await api.post("/api/v1/credit/recompute", headers=admin)).status_code == 200


async def test_manual_event_naming_an_unknown_project_is_bad_input(api, admin):
    ent = await enterprise(api, admin)
    resp = await manual(api, admin, ent["id"], "manual_deduction", project_id=str(uuid.uuid4()))
    assert_error(resp, 400, "REFERENCE_NOT_FOUND")
    assert (await credit(api, admin, ent["id"]))["events"] == []  # nothing written
