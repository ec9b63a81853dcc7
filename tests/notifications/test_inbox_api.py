"""The mini-program inbox and subscription report, over the API."""

from __future__ import annotations

import uuid

import pytest

from backend.notifications import service
from backend.settings import get_settings
from tests.support.api import bearer, mp_login
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def _tell(user_id: str, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        result = await service.notify(
            [uuid.UUID(user_id)], "generic_notice", {"title": f"通知{i}", "content": "内容", "time": "现在"},
            dedup_key=f"inbox:{uuid.uuid4().hex}", settings=get_settings(), arq=None,
        )
        ids += result.notification_ids
    return ids


async def test_inbox_paging_unread_and_read(api):
    pair = await mp_login(api)
    headers = bearer(pair)
    ids = await _tell(pair["user"]["id"], 3)
    page = (await api.get("/mp/v1/inbox?limit=2", headers=headers)).json()
    assert page["total"] == 3 and page["unread"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["title"] == "通知2"  # newest first
    assert (await api.get("/mp/v1/inbox/unread-count", headers=headers)).json() == {"unread": 3}
    read = await api.post(f"/mp/v1/inbox/{ids[0]}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"]
    again = await api.post(f"/mp/v1/inbox/{ids[0]}/read", headers=headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # idempotent
    unread = (await api.get("/mp/v1/inbox?unread_only=true", headers=headers)).json()
    assert unread["total"] == 2
    assert (await api.post("/mp/v1/inbox/read-all", headers=headers)).json() == {"unread": 0}


async def test_someone_elses_notification(api):
    owner = await mp_login(api)
    other = await mp_login(api)
    ids = await _tell(owner["user"]["id"], 1)
    assert_error(await api.post(f"/mp/v1/inbox/{ids[0]}/read", headers=bearer(other)), 403, "FORBIDDEN_OWNER")
    assert (await api.get("/mp/v1/inbox", headers=bearer(other))).json()["total"] == 0
    assert_error(await api.post(f"/mp/v1/inbox/{uuid.uuid4()}/read", headers=bearer(other)), 404, "NOTIFICATION_NOT_FOUND")
    assert_error(await api.get("/mp/v1/inbox"), 401, "AUTH_REQUIRED")


async def test_receipts_are_visible_to_recipient_and_city_admin(api, admin):
    owner = await mp_login(api)
    other = await mp_login(api)
    nid = (await _tell(owner["user"]["id"], 1))[0]
    mine = await api.get(f"/api/v1/notifications/{nid}/receipts", headers=bearer(owner))
    assert mine.status_code == 200
    assert {r["channel"]: r["status"] for r in mine.json()["receipts"]} == {"inbox": "sent", "wechat": "pending"}
    assert (await api.get(f"/api/v1/notifications/{nid}/receipts", headers=admin)).status_code == 200
    assert_error(await api.get(f"/api/v1/notifications/{nid}/receipts", headers=bearer(other)), 403, "FORBIDDEN_OWNER")


async def test_subscription_report(api):
    pair = await mp_login(api)
    headers = bearer(pair)
    body = {"results": {"tmpl_alarm_raised": "accept", "tmpl_complaint_status": "reject"}}
    assert (await api.post("/mp/v1/subscriptions", json=body, headers=headers)).status_code == 200
    resp = await api.post("/mp/v1/subscriptions", json={"results": {"tmpl_alarm_raised": "accept"}}, headers=headers)
    quotas = {s["template_key"]: (s["status"], s["remaining"]) for s in resp.json()}
    assert quotas == {"alarm_raised": ("accept", 2), "complaint_status": ("reject", 0)}
    resp = await api.post("/mp/v1/subscriptions", json={"results": {"tmpl_alarm_raised": "ban"}}, headers=headers)
    assert {s["template_key"]: s["remaining"] for s in resp.json()}["alarm_raised"] == 0
    assert_error(await api.post("/mp/v1/subscriptions", json={"results": {"tmpl_nope": "accept"}}, headers=headers), 400, "TEMPLATE_UNKNOWN")
    assert_error(await api.post("/mp/v1/subscriptions", json={"results": {"tmpl_alarm_raised": "maybe"}}, headers=headers), 400, "VALIDATION_ERROR")
    assert_error(await api.post("/mp/v1/subscriptions", json={"results": {}}, headers=headers), 400, "VALIDATION_ERROR")
