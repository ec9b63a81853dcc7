"""People's rights (issue 23, part 4) through the API: my data as JSON, a correction answered by the responsible
station within its deadline (timers remind and escalate), and closing the account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts.tables import User
from backend.notifications.tables import Notification, WechatBinding
from backend.privacy import rights
from backend.settings import get_settings
from backend.timers import service as timers
from backend.timers.tables import DueTimer
from tests.complaints.helpers import report
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error
from tests.workforce.test_attendance import LABOUR, _at, _clock_post, _ent, _id_number, _site

pytestmark = pytest.mark.asyncio(loop_scope="session")

CARD = "6222021234567890128"
PHONE = "13912345678"


async def _worker_user(api, admin):
    """A registered worker on a 鹿城 site, linked to a WeChat user who clocked in once and reported once."""
    site = await _site(api, admin, 330302)
    labour = await _ent(api, admin, LABOUR)
    number = _id_number()
    made = await api.post("/api/v1/workers", json={"name": "钱七", "id_number": number, "employer_id": labour,
                                                   "contract_signed": True, "phone": PHONE, "bank_card": CARD},
                          headers=admin)
    assert made.status_code == 201, made.text
    worker = made.json()
    code = (await api.post(f"/api/v1/workers/{worker['id']}/bind-code", headers=admin)).json()["code"]
    assert (await api.post("/api/v1/roster", json={"project_id": site["project"], "worker_id": worker["id"],
                                                  "enterprise_id": labour}, headers=admin)).status_code == 201
    login = await mp_login(api)
    linked = await api.post("/mp/v1/workforce/link", json={"id_number": number, "name": "钱七", "bind_code": code},
                            headers=bearer(login))
    assert linked.status_code == 200, linked.text
    pair = {**linked.json(), "openid": login["openid"]}
    clock = await _clock_post(api, _at(site, 2), headers=bearer(pair))
    assert clock.status_code == 201, clock.text
    _, complaint = await report(api, admin, 330302, pair=pair)
    return pair, worker, number, clock.json(), complaint


async def test_my_data_correction_in_time_and_closing(api, admin):
    pair, worker, number, clock, complaint = await _worker_user(api, admin)
    _, someone_else = await report(api, admin, 330302)

    # --- see and download what is held about me ---
    mine = await api.get("/mp/v1/privacy/my-data", headers=bearer(pair))
    assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store", mine.text
    data = mine.json()
    assert data["worker"]["id_number"] == number and data["worker"]["bank_card"] == CARD
    assert data["worker"]["phone"] == PHONE and data["worker"]["name"] == "钱七"
    assert [c["at"][:19] for c in data["worker"]["clocks"]] == [
        datetime.fromisoformat(clock["at"]).astimezone(UTC).isoformat()[:19]]
    assert [c["number"] for c in data["complaints"]] == [complaint["number"]]
    assert someone_else["number"] not in mine.text
    assert {c["item"] for c in data["consents"]} == {"general", "location", "face"}
    assert data["worker"]["roster"] and data["photos"]
    file = await api.get("/mp/v1/privacy/my-data", params={"download": "true"}, headers=bearer(pair))
    assert file.headers["content-disposition"].startswith("attachment;") and file.json()["worker"]["id"] == worker["id"]
    assert_error(await api.get("/mp/v1/privacy/my-data", headers=admin), 403, "FORBIDDEN_ROLE")

    # --- ask for a correction: the responsible station (鹿城, the site's district) answers in time ---
    assert_error(await api.post("/mp/v1/privacy/requests", json={"field": "id_photo", "requested_change": "x"},
                                headers=bearer(pair)), 400, "PRIVACY_FIELD_UNKNOWN")
    asked = await api.post("/mp/v1/privacy/requests", headers=bearer(pair),
                           json={"field": "worker_phone", "requested_change": "手机号已换为 139****0000，请更正"})
    assert asked.status_code == 201, asked.text
    req = asked.json()
    assert req["status"] == "open" and req["district_adcode"] == 330302 and not req["late"]
    settings = get_settings()
    due = datetime.fromisoformat(req["due_at"])
    assert abs((due - datetime.fromisoformat(req["created_at"])).total_seconds() - settings.PRIVACY_ANSWER_S) < 1
    lc_admin = await staff_token(api, "lc_admin")
    queue = await api.get("/api/v1/privacy/requests", params={"status": "open"}, headers=lc_admin)
    assert req["id"] in [r["id"] for r in queue.json()]
    assert_error(await api.get("/api/v1/privacy/requests", headers=await staff_token(api, "lc_inspector")), 403,
                 "FORBIDDEN_ROLE")
    # The deadline lives in the timer service: a reminder before it and an escalation at it.
    rows = {r["key"].split(":")[1]: r for r in await DueTimer.select().where(
        (DueTimer.kind == rights.TIMER_KIND) & DueTimer.key.like(f"{req['id']}:%"))}
    assert rows["escalate"]["due_at"] == due
    assert rows["remind"]["due_at"] == due - timedelta(seconds=settings.PRIVACY_REMIND_BEFORE_S)
    # Time passes (the timers are made due now, as if the days went by) and the ARQ worker fires them.
    timers.register(rights.TIMER_KIND, rights.on_timer)  # as workers/settings.py does at start-up
    for step in ("remind", "escalate"):
        await DueTimer.update({DueTimer.due_at: datetime.now(UTC)}).where(DueTimer.id == rows[step]["id"])
        assert await timers.fire({"settings": settings}, rows[step]["id"]) == "fired"
    inbox = (await api.get("/mp/v1/inbox", headers=lc_admin)).json()
    titles = [n["title"] for n in inbox["items"]]
    assert "个人信息更正申请即将到期" in titles and "个人信息更正申请已超期" in titles
    city = [n["title"] for n in (await api.get("/mp/v1/inbox", headers=admin)).json()["items"]]
    assert "个人信息更正申请已超期" in city
    answered = await api.post(f"/api/v1/privacy/requests/{req['id']}/answer", headers=lc_admin,
                              json={"decision": "done", "answer": "已核实并更正实名登记手机号"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert [e["kind"] for e in answered.json()["events"]] == ["submitted", "reminded", "escalated", "answered"]
    assert_error(await api.post(f"/api/v1/privacy/requests/{req['id']}/answer", headers=lc_admin,
                                json={"decision": "rejected", "answer": "再次"}), 409, "PRIVACY_REQUEST_STATE")
    mine_now = (await api.get("/mp/v1/privacy/requests", headers=bearer(pair))).json()
    assert {r["kind"] for r in mine_now} >= {"access", "correction"}
    assert [r["answer"] for r in mine_now if r["id"] == req["id"]] == ["已核实并更正实名登记手机号"]

    # --- close the account: the real-name, attendance and wage records are kept (and said so), the rest goes ---
    me = await User.select(User.id).where(User.openid == pair["openid"]).first()
    await WechatBinding.insert(WechatBinding(user=me["id"], openid=pair["openid"]))  # as a refused push leaves it
    assert await Notification.exists().where(Notification.recipient == me["id"])  # the answer above
    refused = await api.post("/mp/v1/privacy/close-account", json={}, headers=bearer(pair))  # no explicit yes
    assert refused.status_code == 400, refused.text
    closed = await api.post("/mp/v1/privacy/close-account", json={"confirm": True}, headers=bearer(pair))
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert any("实名登记" in k["what"] and "第15条" in k["why"] for k in body["kept"])
    assert body["deleted"]["consents"] == 3 and body["deleted"]["worker_unlinked"] == 1
    assert_error(await api.post("/mp/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401,
                 "REFRESH_TOKEN_INVALID")
    # the access token issued before the closing stops working at once, not when it expires
    assert (await api.get("/mp/v1/privacy/my-data", headers=bearer(pair))).status_code == 401
    # the account's own fields (data map: "on account closing") are gone: openid, unionid, name, phone, the
    # refused-openid record and every inbox message
    account = await User.select(User.openid, User.unionid, User.display_name, User.phone, User.is_active).where(
        User.id == me["id"]).first()
    assert account == {"openid": None, "unionid": None, "display_name": "已注销用户", "phone": "", "is_active": False}
    assert not await WechatBinding.exists().where(WechatBinding.user == me["id"])
    assert not await Notification.exists().where(Notification.recipient == me["id"])
    kept = await api.get(f"/api/v1/workers/{worker['id']}/pii", headers=admin)
    assert kept.json()["id_number"] == number  # kept by law, no longer reachable from WeChat
    again = await mp_login(api, pair["openid"])  # the same WeChat user starts afresh: nothing of before
    fresh = (await api.get("/mp/v1/privacy/my-data", headers=bearer(again))).json()
    assert fresh["worker"] is None and fresh["complaints"] == [] and fresh["account"]["role"] == "citizen"
    staff_view = await api.get(f"/api/v1/complaints/{complaint['id']}", headers=admin)
    assert staff_view.status_code == 200  # the case file stays with the station


async def test_station_applies_a_correction_of_a_field_the_person_owns(api, admin):
    """Display name and phone: the answer may carry the corrected value, applied to the account in the same
    transaction and recorded in the trail (who, which field); anything else is still corrected by hand."""
    pair = await mp_login(api)

    async def ask(field: str, change: str) -> str:
        resp = await api.post("/mp/v1/privacy/requests", headers=bearer(pair),
                              json={"field": field, "requested_change": change})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    async def answer(request_id: str, **body):
        return await api.post(f"/api/v1/privacy/requests/{request_id}/answer", headers=admin,
                              json={"decision": "done", "answer": "已更正", **body})

    async def account() -> dict:
        return (await api.get("/mp/v1/privacy/my-data", headers=bearer(pair))).json()["account"]

    phone = await ask("phone", "手机号应为 13800001111")
    other = await ask("complaint", "投诉地址写错了")
    # refused: a value with a refusal, a field the system does not own, a value that is not a phone number
    assert_error(await answer(phone, decision="rejected", corrected_value="13800001111"), 400,
                 "PRIVACY_CORRECTION_NOT_APPLICABLE")
    assert_error(await answer(other, corrected_value="x"), 400, "PRIVACY_CORRECTION_NOT_APPLICABLE")
    assert_error(await answer(phone, corrected_value="12345"), 400, "PRIVACY_CORRECTION_INVALID")
    assert (await account())["phone"] == ""
    mine = {r["id"]: r for r in (await api.get("/mp/v1/privacy/requests", headers=bearer(pair))).json()}
    assert mine[phone]["status"] == "open" and mine[other]["status"] == "open"  # nothing half-done

    done = await answer(phone, corrected_value=" 13800001111 ")
    assert done.status_code == 200, done.text
    assert (await account())["phone"] == "13800001111"
    events = done.json()["events"]
    assert [e["kind"] for e in events] == ["submitted", "corrected", "answered"]
    corrected = events[1]
    assert corrected["actor_id"] and "手机号" in corrected["note"] and "13800001111" not in corrected["note"]

    name = await ask("display_name", "昵称请改为 老陈")
    assert (await answer(name, corrected_value="老陈")).status_code == 200
    assert (await account())["display_name"] == "老陈"
    # answered without a value: the request is closed and the account untouched (corrected by hand, as before)
    assert (await answer(other)).status_code == 200 and (await account())["display_name"] == "老陈"
