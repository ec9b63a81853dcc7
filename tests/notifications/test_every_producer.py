"""Issue 16 build 2: real producers, end to end through the HTTP API and the real ARQ worker, against the strict
fake WeChat — every recipient with a WeChat account has reported its acceptances (``subscribe``), so every push
is sent, and the fake accepts each one (counted by msgid) and refuses none.

Producers driven here: a complaint's lifecycle with every SLA stage (a seconds-long category: reminders, warning,
breach — the citizen told in plain words — then accept and resolve), inspection requests (submitted, failed,
the answer deadline's reminder and escalation on the timer service), a material report failing its standard,
two failed spot checks → a quality hold (the firm's leads, the workers told their wages are unaffected), and a
payroll paid (each worker told). Alarms of each level and rule and silence (MQTT, the iot worker) are driven the
same way in tests/monitoring/test_alarm_pushes_e2e.py. Not driven here (each has its own end-to-end test against
the same fake, and the session-end audit replays every stored message to it): camera alerts (the vision worker,
tests/cameras), escalation chains (tests/notifications/test_escalation.py), credit listings and webhooks
(department systems, no WeChat recipient: tests/notifications/test_webhooks.py).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import pytest

from backend.accounts.tables import User
from backend.complaints.tables import Event
from backend.notifications.tables import Delivery, Notification
from backend.notifications.templates import TEMPLATES, wechat_template_id
from backend.outbox.tables import OutboxMessage
from backend.settings import get_settings
from backend.workforce.tables import Worker
from tests.complaints.helpers import photo, report
from tests.lifecycle.helpers import inspection, people, planned_project
from tests.materials.helpers import new_batch, to_sampled, world
from tests.materials.helpers import report as lab_report
from tests.materials.test_api import GOOD_CEMENT
from tests.support.api import mp_login, subscribe
from tests.support.workers import eventually
from tests.workforce.test_payroll import MONTH, _clock, _setup, _sh, _worker
from tests.workforce.test_spot_checks import _check

pytestmark = pytest.mark.asyncio

FAST = {"ZHIJIAN_RECONCILE_EVERY_S": "2", "ZHIJIAN_NOTIFY_RECONCILE_GRACE_S": "0.5", "ZHIJIAN_NOTIFY_RETRY_BASE_S": "1.0"}
SLA_S = 6.0
SLA_STAGES = ["sla_remind_1", "sla_remind_2", "sla_warning", "sla_breached"]
TIMES = 8  # acceptances per template and user: more than any one of them is sent here


async def _accept_all(api, fake, pair) -> None:
    ids = [wechat_template_id(get_settings(), t) for t in TEMPLATES.values()]
    await subscribe(api, pair, fake, ids, times=TIMES)


async def accept_for_every_member(api, fake) -> list[str]:
    """Every user with a WeChat account other than citizens (staff, leads, supervisors, workers: earlier tests
    made some on the shared demo projects) accepts every template — so whoever a producer tells has accepted."""
    rows = await User.select(User.openid).where(User.openid.is_not_null() & (User.role != "citizen")
                                                & (User.is_active == True))
    openids = sorted({r["openid"] for r in rows if r["openid"]})
    for openid in openids:
        await _accept_all(api, fake, await mp_login(api, openid))
    return openids


async def wechat_settled() -> bool:
    """No WeChat push of the outbox is due and undelivered (pending and available now)."""
    rows = await OutboxMessage.raw("SELECT count(*) AS n FROM outbox WHERE kind = 'wechat' AND status = 'pending'"
                                   " AND available_at <= now()")
    return rows[0]["n"] == 0


async def _openid_users(since: datetime) -> dict[str, str]:
    """Recipients (user id → openid) of the notifications made since ``since`` who have a WeChat account."""
    rows = await Notification.select(Notification.recipient.id.as_alias("u"), Notification.recipient.openid.as_alias("o")
                                     ).where((Notification.created_at >= since) & Notification.recipient.openid.is_not_null())
    return {str(r["u"]): r["o"] for r in rows if r["o"]}


async def _wechat_receipts(since: datetime) -> list[dict]:
    return await Delivery.select(
        Delivery.status, Delivery.external_id, Delivery.reason, Delivery.notification.template.as_alias("template"),
        Delivery.notification.recipient.openid.as_alias("openid"),
    ).where((Delivery.channel == "wechat") & (Delivery.notification.created_at >= since)
            & Delivery.notification.recipient.openid.is_not_null())


async def test_every_producer_pushes_through_the_strict_fake_and_nothing_is_refused(api, app, admin, fake_wechat,
                                                                                  start_worker):
    # Earlier tests may have left pushes undelivered (no worker ran): the worker settles them first, so they
    # spend none of the acceptances reported below.
    start_worker(FAST)
    assert await eventually(wechat_settled, timeout=60)
    t0 = datetime.now().astimezone()
    refused_before = len(fake_wechat.refusals())
    p = await people(api)
    lead, sup = await mp_login(api, "demo-lead"), await mp_login(api, "demo-supervisor")  # lead_wang, sup_li
    citizen = await mp_login(api)
    await _accept_all(api, fake_wechat, citizen)
    assert {lead["openid"], sup["openid"]} <= set(await accept_for_every_member(api, fake_wechat))

    # 1. A complaint through every SLA stage (breach: the citizen is told), then handled.
    code = f"e2e_{uuid.uuid4().hex[:8]}"
    assert (await api.put(f"/api/v1/complaints/categories/{code}", json={"name": "端到端快速", "sla_hours": SLA_S / 3600},
                          headers=admin)).status_code == 200
    _, complaint = await report(api, admin, 330302, pair=citizen, category=code)
    cid = complaint["id"]

    # 2. Inspection requests: one failed at once (the lead is told), one left past its deadline (timer service).
    project = await planned_project(api, admin, status="under_construction")
    original = app.state.settings
    app.state.settings = dataclasses.replace(original, INSPECTION_ANSWER_S=2.0, INSPECTION_ESCALATE_AFTER_S=2.0)
    try:
        failed = (await inspection(api, project, p["lead_wang"], "foundation", "承台钢筋")).json()
        late = (await inspection(api, project, p["lead_wang"], "foundation", "地梁钢筋")).json()
    finally:
        app.state.settings = original
    answer = await api.post(f"/api/v1/inspection-requests/{failed['id']}/answer",
                            json={"passed": False, "findings": "保护层厚度不足"}, headers=p["sup_li"])
    assert answer.status_code == 200, answer.text

    # 3. A material report failing its standard (GB 175: 3-day strength under the limit).
    w = await world(api, admin)
    batch = await new_batch(api, w, material="cement", grade="P·O 42.5", spec="散装")
    await to_sampled(api, w, batch["id"])
    bad = await lab_report(api, w, batch["id"], {"report_date": "2024-05-31",
                                                  "cement": {**GOOD_CEMENT, "compressive_3d": 16.9}})
    assert bad.status_code == 201 and bad.json()["verdict"] == "fail", bad.text

    # 4. Payroll paid to workers with WeChat accounts, then a quality hold (workers told wages are unaffected).
    pay_project, labour, sub, gc = await _setup(api, admin)
    workers = [await _worker(api, admin, labour, pay_project["id"], 30000, entered=_sh(1, 0), linked=True)
               for _ in range(2)]
    for wid in workers:
        user = (await Worker.select(Worker.user).where(Worker.id == uuid.UUID(wid)).first())["user"]
        openid = (await User.select(User.openid).where(User.id == user).first())["openid"]
        await _accept_all(api, fake_wechat, await mp_login(api, openid))
        await _clock(wid, pay_project["id"], _sh(2))
    made = await api.post("/api/v1/payrolls", json={"project_id": pay_project["id"], "enterprise_id": labour,
                                                    "month": MONTH}, headers=sub)
    assert made.status_code == 201, made.text
    url = f"/api/v1/payrolls/{made.json()['id']}"
    for action, who in (("submit", sub), ("approve", gc), ("pay", sub)):
        assert (await api.post(f"{url}/{action}", headers=who)).status_code == 200
    first = (await _check(api, p["lc_inspector"], pay_project["id"], passed=False)).json()
    second = (await _check(api, p["lc_inspector"], pay_project["id"], passed=False, reinspection_of=first["id"])).json()
    assert second["holds_started"], second

    # The SLA clock runs out; then the case is handled (the citizen told of each step).
    async def breached():
        rows = await Event.select(Event.kind).where((Event.complaint == uuid.UUID(cid)) & Event.kind.is_in(SLA_STAGES))
        return len(rows) == len(SLA_STAGES)

    assert await eventually(breached, timeout=SLA_S + 20)
    assert (await api.post(f"/api/v1/complaints/{cid}/accept", headers=admin)).status_code == 200
    after = await photo(api, {"access_token": admin["Authorization"].split()[1]}, purpose="complaint_result")
    assert (await api.post(f"/api/v1/complaints/{cid}/resolve", json={"notes": "已责令整改", "photo_ids": [after]},
                           headers=admin)).status_code == 200

    async def deadline_done():
        got = (await api.get(f"/api/v1/inspection-requests/{late['id']}", headers=p["lc_inspector"])).json()
        return [e["kind"] for e in got["events"]][-2:] == ["reminded", "escalated"]

    assert await eventually(deadline_done, timeout=20)

    # Every WeChat receipt of these producers ends sent — none skipped for want of an acceptance, none failed.
    async def settled():
        rows = await _wechat_receipts(t0)
        return rows if rows and all(r["status"] in ("sent", "failed", "skipped") for r in rows) else None

    receipts = await eventually(settled, timeout=30)
    assert receipts, "no WeChat receipts"
    assert [r for r in receipts if r["status"] != "sent"] == []
    templates = {r["template"] for r in receipts}
    assert {"complaint_status", "generic_notice", "material_failed", "quality_hold", "wages_unaffected",
            "wage_paid"} <= templates, templates
    breach = [r for r in receipts if r["openid"] == citizen["openid"]]
    assert len(breach) >= 3, breach  # created, breached (plain words), resolved …
    # The fake accepted each of them: one message per receipt, matched by msgid, to the right user.
    accepted = {str(m["msgid"]): m for m in fake_wechat.messages()}
    assert all(r["external_id"] in accepted and accepted[r["external_id"]]["touser"] == r["openid"] for r in receipts)
    assert len({r["external_id"] for r in receipts}) == len(receipts)
    assert set((await _openid_users(t0)).values()) >= {lead["openid"], sup["openid"], citizen["openid"]}
    # And the strict fake refused nothing at all while they ran.
    assert fake_wechat.refusals()[refused_before:] == []
