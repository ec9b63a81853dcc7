"""Credit lists that bind (issue 19 build 5), through HTTP on the real services.

Rules (the project's, from issue 19; no national clause in shared/domain states them): an appeal does not lift
a black listing in force unless a regulator admin suspends its restrictions with a reason; one appeal per
listing unless the regulator accepts new evidence; manual bonuses are capped per 12 months and cannot move a
firm off the black list on their own (scoring.black_due); 公示 is public: the lists in notice and in force
are on a page and an Open311-style JSON feed, without signing in and with nothing personal.
"""

from __future__ import annotations

import html
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from backend.credit import service
from backend.credit.public import CACHE_KEY
from backend.db import utcnow
from backend.settings import get_settings
from tests.credit.helpers import api_key, credit, enterprise, enterprise_user, manual
from tests.support import env
from tests.support.api import staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _black_listed(api, admin, *, effective: bool = True) -> tuple[dict, dict]:
    ent = await enterprise(api, admin)
    for points in (-30, -15):  # 55: below 60
        assert (await manual(api, admin, ent["id"], "manual_deduction", points)).status_code == 201
    if effective:
        await service.take_effect_due(get_settings(), None, utcnow() + timedelta(days=get_settings().CREDIT_NOTICE_DAYS, seconds=1))
    [listing] = (await credit(api, admin, ent["id"]))["status"]["lists"]
    return ent, listing


async def test_an_appeal_does_not_lift_a_listing_in_force_only_a_regulators_suspension_does(api, admin):
    ent, listing = await _black_listed(api, admin)
    assert listing["status"] == "active" and listing["in_force"] is True
    me = await enterprise_user(api, admin, ent["id"])
    appeal = await api.post(f"/api/v1/credit/listings/{listing['id']}/appeals", json={"reason": "扣分依据有误，请复核"}, headers=me)
    assert appeal.status_code == 201, appeal.text
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["lists"][0]["status"] == "appealed" and status["lists"][0]["in_force"] is True
    assert status["black_listed"] is True and "bidding_restricted" in {r["code"] for r in status["restrictions"]}
    # Other departments see it restricted as well.
    key = await api_key(api, admin, ["credit:read"])
    assert (await api.get(f"/open/v1/credit/enterprises/{ent['uscc']}", headers=key)).json()["black_listed"] is True
    # Only a regulator admin suspends, with a reason; an inspector or the firm cannot.
    url = f"/api/v1/credit/listings/{listing['id']}/suspend"
    assert_error(await api.post(url, json={"reason": "申诉材料初步成立"}, headers=await staff_token(api, "lc_inspector")),
                 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(url, json={"reason": "申诉材料初步成立"}, headers=me), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(url, json={"reason": "好"}, headers=admin), 400, "VALIDATION_ERROR")
    done = await api.post(url, json={"reason": "申诉材料初步成立，复核期间暂停惩戒"}, headers=admin)
    assert done.status_code == 200 and done.json()["in_force"] is False, done.text
    assert done.json()["suspension_reason"] == "申诉材料初步成立，复核期间暂停惩戒"
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["black_listed"] is False and status["restrictions"] == []
    assert_error(await api.post(url, json={"reason": "再暂停一次"}, headers=admin), 409, "CREDIT_SUSPEND_NOT_APPLICABLE")
    # The appeal is turned down: in force again, the suspension ends with the appeal.
    decided = await api.post(f"/api/v1/credit/appeals/{appeal.json()['id']}/decision",
                             json={"upheld": False, "note": "经复核扣分依据充分"}, headers=admin)
    assert decided.status_code == 200, decided.text
    status = (await credit(api, admin, ent["id"]))["status"]
    assert status["lists"][0]["status"] == "active" and status["black_listed"] is True
    assert status["lists"][0]["suspended_at"] is None
    detail = (await api.get(f"/api/v1/credit/listings/{listing['id']}", headers=admin)).json()
    assert [t["action"] for t in detail["timeline"]] == ["propose", "take_effect", "appeal", "suspend", "reject_appeal"]
    # A listing still in notice cannot be suspended (nothing is in force yet).
    ent2, notice = await _black_listed(api, admin, effective=False)
    me2 = await enterprise_user(api, admin, ent2["id"])
    assert (await api.post(f"/api/v1/credit/listings/{notice['id']}/appeals", json={"reason": "扣分依据有误，请复核"},
                           headers=me2)).status_code == 201
    assert_error(await api.post(f"/api/v1/credit/listings/{notice['id']}/suspend", json={"reason": "暂停一下惩戒"},
                                headers=admin), 409, "CREDIT_SUSPEND_NOT_APPLICABLE")


async def test_one_appeal_per_listing_unless_new_evidence_is_accepted(api, admin):
    ent, listing = await _black_listed(api, admin)
    me = await enterprise_user(api, admin, ent["id"])
    appeals = f"/api/v1/credit/listings/{listing['id']}/appeals"
    evidence = f"/api/v1/credit/listings/{listing['id']}/new-evidence"
    assert_error(await api.post(evidence, json={"reason": "补充了检测报告"}, headers=admin), 409, "CREDIT_LISTING_STATE")
    first = (await api.post(appeals, json={"reason": "扣分依据有误，请复核"}, headers=me)).json()
    await api.post(f"/api/v1/credit/appeals/{first['id']}/decision", json={"upheld": False, "note": "依据充分"}, headers=admin)
    assert_error(await api.post(appeals, json={"reason": "再申诉一次试试"}, headers=me), 409, "CREDIT_APPEAL_LIMIT")
    assert_error(await api.post(evidence, json={"reason": "补充了检测报告"}, headers=me), 403, "FORBIDDEN_ROLE")
    accepted = await api.post(evidence, json={"reason": "企业提交第三方复检报告，受理"}, headers=admin)
    assert accepted.status_code == 200 and accepted.json()["appeals_allowed"] == 2
    second = await api.post(appeals, json={"reason": "附第三方复检报告"}, headers=me)
    assert second.status_code == 201, second.text
    await api.post(f"/api/v1/credit/appeals/{second.json()['id']}/decision", json={"upheld": False, "note": "复检不影响结论"},
                   headers=admin)
    assert_error(await api.post(appeals, json={"reason": "第三次申诉"}, headers=me), 409, "CREDIT_APPEAL_LIMIT")


async def test_the_public_lists_need_no_sign_in_and_show_nothing_personal(api, admin):
    ent, listing = await _black_listed(api, admin)
    redis = Redis.from_url(env.REDIS_URL)  # the tests' own Redis database
    await redis.delete(CACHE_KEY)
    feed = await api.get("/public/credit/lists.json")  # no Authorization header
    assert feed.status_code == 200, feed.text
    assert feed.headers["cache-control"] == f"public, max-age={get_settings().CREDIT_PUBLIC_CACHE_S}"
    [entry] = [e for e in feed.json() if e["id"] == listing["id"]]
    assert set(entry) == {"id", "enterprise_name", "uscc", "list_kind", "list_name", "status", "status_name", "in_force",
                          "reason", "proposed_at", "notice_ends_at", "effective_at"}
    assert (entry["enterprise_name"], entry["uscc"], entry["list_kind"], entry["status"]) == (
        ent["name"], ent["uscc"], "black", "active")
    assert entry["reason"] == listing["reason"] and entry["effective_at"] is not None
    page = await api.get("/public/credit/lists")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert html.escape(ent["name"]) in page.text and ent["uscc"] in page.text
    # Cached: a listing proposed now shows once the cache has expired (here: dropped), not before.
    ent2, _ = await _black_listed(api, admin, effective=False)
    assert ent2["uscc"] not in (await api.get("/public/credit/lists.json")).text
    await redis.delete(CACHE_KEY)
    fresh = [e for e in (await api.get("/public/credit/lists.json")).json() if e["uscc"] == ent2["uscc"]]
    assert fresh and fresh[0]["status"] == "notice" and fresh[0]["in_force"] is False
    assert str(uuid.UUID(fresh[0]["id"]))
    await redis.aclose()
