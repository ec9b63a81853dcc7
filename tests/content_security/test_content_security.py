"""Content security end to end: the worker checks a complaint's text and photos with the strict fake
WeChat, the fake pushes its verdicts (safe mode: encrypted, signed) to a real uvicorn server, a risky
verdict hides the text and photos from everyone but the station, and the station's review is audited.
Subscribe-message results (subscribe_msg_sent_event) are recorded on the delivery receipt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from backend.content_security.tables import ContentCheck
from backend.notifications.tables import Delivery, Notification
from tests.complaints.helpers import report
from tests.support.api import bearer, mp_login, staff_token, subscribe
from tests.support.asserts import assert_error
from tests.support.env import free_port
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
PUSH_TOKEN = "test-push-token-" + uuid.uuid4().hex[:8]
AES_KEY = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")  # 43 characters, as the console makes
UNDER_REVIEW = "该内容正在审核中"


@pytest.fixture(scope="module")
def push_server(database, s3_server, redis_db, fake_wechat):
    """The API under uvicorn on a free port, in safe mode, with the fake's push pointed at it."""
    port = free_port()
    env = {**os.environ, "ZHIJIAN_WECHAT_PUSH_TOKEN": PUSH_TOKEN, "ZHIJIAN_WECHAT_PUSH_AES_KEY": AES_KEY}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "backend.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("uvicorn did not become ready")
    fake_wechat.configure_push(f"{base}/wechat/push", PUSH_TOKEN, aes_key=AES_KEY, sent_events=True)
    try:
        yield base
    finally:
        fake_wechat.configure_push(None)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _sign(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


async def _checks(complaint_id: str) -> dict[str, str]:
    rows = await ContentCheck.select(ContentCheck.kind, ContentCheck.status).where(ContentCheck.complaint == uuid.UUID(complaint_id))
    return {r["kind"]: r["status"] for r in rows}


async def test_risky_text_and_photo_are_hidden_until_the_station_reviews(api, admin, fake_wechat, push_server, start_worker):
    start_worker()
    bad = await mp_login(api)
    fake_wechat.verdicts({bad["openid"]: "risky"})  # WeChat judges this user's text and photos risky
    good, ok_case = await report(api, admin, 330302)
    _, case = await report(api, admin, 330302, pair=bad)

    async def decided():
        got = await _checks(case["id"])
        return got if got == {"text": "hidden", "media": "hidden"} else None

    assert await eventually(decided, timeout=60), (await _checks(case["id"]), fake_wechat.pushed()[-3:])
    assert await eventually(lambda: _checks(ok_case["id"]), timeout=30)
    assert (await eventually(lambda: _passed(ok_case["id"]), timeout=60)) == {"text": "passed", "media": "passed"}

    # the citizen and the Open311 API (department systems) see neither text nor photo
    mine = (await api.get(f"/mp/v1/complaints/{case['id']}", headers=bearer(bad))).json()
    assert mine["description"] == UNDER_REVIEW and mine["photos"] == []
    key = (await api.post("/api/v1/api-keys", json={"name": "12345热线", "department": "市12345", "scopes": ["complaints:read"]},
                          headers=admin)).json()["key"]
    public = (await api.get(f"/open311/v2/requests/{case['id']}.json", params={"api_key": key})).json()[0]
    assert public["description"] == UNDER_REVIEW and public["media_url"] is None
    # the station sees both
    station = await staff_token(api, "lc_admin")
    staff = (await api.get(f"/api/v1/complaints/{case['id']}", headers=station)).json()
    assert staff["description"] != UNDER_REVIEW and len(staff["photos"]) == 1
    # the untouched report stays visible
    assert (await api.get(f"/mp/v1/complaints/{ok_case['id']}", headers=bearer(good))).json()["description"] != UNDER_REVIEW

    queue = (await api.get("/api/v1/content-checks", headers=station)).json()
    ours = [c for c in queue if c["complaint_id"] == case["id"]]
    assert {c["kind"] for c in ours} == {"text", "media"} and all(c["suggest"] == "risky" for c in ours)
    text = next(c for c in ours if c["kind"] == "text")
    photo = next(c for c in ours if c["kind"] == "media")
    # only the case's station may review: another district's inspector, a citizen are refused
    body = {"decision": "approve", "reason": "经核实为正常投诉描述"}
    assert_error(await api.post(f"/api/v1/content-checks/{text['id']}/review", json=body,
                                headers=await staff_token(api, "lw_inspector")), 403, "FORBIDDEN_DISTRICT")
    assert_error(await api.post(f"/api/v1/content-checks/{text['id']}/review", json=body, headers=bearer(bad)), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post(f"/api/v1/content-checks/{text['id']}/review", json={"decision": "approve"},
                                headers=station), 400, "CONTENT_REVIEW_REASON_REQUIRED")
    resp = await api.post(f"/api/v1/content-checks/{text['id']}/review", json=body, headers=station)
    assert resp.status_code == 200 and resp.json()["status"] == "approved", resp.text
    assert_error(await api.post(f"/api/v1/content-checks/{text['id']}/review", json=body, headers=station), 409, "CONTENT_CHECK_BAD_STATE")
    removed = await api.post(f"/api/v1/content-checks/{photo['id']}/review",
                             json={"decision": "remove", "reason": "图片含无关内容"}, headers=station)
    assert removed.json()["status"] == "removed"
    mine = (await api.get(f"/mp/v1/complaints/{case['id']}", headers=bearer(bad))).json()
    assert mine["description"] != UNDER_REVIEW and mine["photos"] == []  # text cleared, photo removed for good
    # the review is audited: WeChat's verdict, then who decided what and why
    me = (await api.get("/api/v1/me", headers=station)).json()
    trail = (await api.get(f"/api/v1/content-checks/{text['id']}/events", headers=station)).json()
    assert [(e["kind"], e["to_status"]) for e in trail] == [("verdict", "hidden"), ("review_approve", "approved")]
    assert trail[1]["actor_id"] == me["id"] and trail[1]["reason"] == "经核实为正常投诉描述"
    assert_error(await api.get(f"/api/v1/content-checks/{text['id']}/events", headers=bearer(good)), 403, "FORBIDDEN_ROLE")


async def _passed(complaint_id: str):
    got = await _checks(complaint_id)
    return got if got == {"text": "passed", "media": "passed"} else None


async def test_sent_event_is_recorded_on_the_receipt(api, admin, fake_wechat, push_server, start_worker):
    pair = await mp_login(api)
    await subscribe(api, pair, fake_wechat, "tmpl_complaint_status")
    start_worker()
    await report(api, admin, 330302, pair=pair)
    user_id = uuid.UUID(pair["user"]["id"])

    async def recorded():
        row = await Delivery.select(Delivery.push_status, Delivery.external_id, Delivery.notification).where(
            (Delivery.channel == "wechat") & (Delivery.status == "sent")
            & Delivery.notification.is_in(Notification.select(Notification.id).where(Notification.recipient == user_id))
        ).first()
        return row if row and row["push_status"] else None

    row = await eventually(recorded, timeout=60)
    assert row and row["push_status"] == "success" and row["external_id"], fake_wechat.pushed()[-3:]
    receipts = (await api.get(f"/api/v1/notifications/{row['notification']}/receipts", headers=admin)).json()
    wechat = next(r for r in receipts["receipts"] if r["channel"] == "wechat")
    assert wechat["push_status"] == "success" and wechat["push_errcode"] == 0 and wechat["push_at"]


async def test_push_endpoint_checks_signatures(api, push_server):
    """Plain mode in-process (the test app has no EncodingAESKey); safe mode on the uvicorn server."""
    from backend.settings import get_settings

    token = get_settings().WECHAT_PUSH_TOKEN
    ts, nonce = str(int(time.time())), "n0nce"
    ok = {"signature": _sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    resp = await api.get("/wechat/push", params={**ok, "echostr": "hello"})
    assert resp.status_code == 200 and resp.text == "hello"
    assert_error(await api.get("/wechat/push", params={**ok, "signature": "0" * 40, "echostr": "x"}), 403, "WECHAT_PUSH_SIGNATURE")
    stale = str(int(time.time()) - 3600)
    assert_error(await api.get("/wechat/push", params={"signature": _sign(token, stale, nonce), "timestamp": stale,
                                                        "nonce": nonce, "echostr": "x"}), 403, "WECHAT_PUSH_SIGNATURE")
    event = {"MsgType": "event", "Event": "wxa_media_check", "trace_id": "unknown", "result": {"suggest": "risky"}}
    resp = await api.post("/wechat/push", params=ok, json=event)
    assert resp.status_code == 200 and resp.text == "success"
    assert_error(await api.post("/wechat/push", params={**ok, "signature": "bad"}, json=event), 403, "WECHAT_PUSH_SIGNATURE")
    # safe mode: a plain body, or an Encrypt with a wrong msg_signature, is refused
    async with httpx.AsyncClient(base_url=push_server) as http:
        sig = {"signature": _sign(PUSH_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        assert_error(await http.post("/wechat/push", params=sig, json=event), 403, "WECHAT_PUSH_SIGNATURE")
        forged = {"ToUserName": "gh", "Encrypt": base64.b64encode(os.urandom(64)).decode()}
        resp = await http.post("/wechat/push", params={**sig, "encrypt_type": "aes", "msg_signature": "0" * 40}, json=forged)
        assert_error(resp, 403, "WECHAT_PUSH_SIGNATURE")
        resp = await http.post("/wechat/push", params={**sig, "encrypt_type": "aes",
                                                        "msg_signature": _sign(PUSH_TOKEN, ts, nonce, forged["Encrypt"])}, json=forged)
        assert_error(resp, 403, "WECHAT_PUSH_SIGNATURE")  # signed but not decryptable with our key
    await asyncio.sleep(0)


async def test_reconciler_checks_a_complaint_whose_job_was_lost(api, app, admin, redis_db, fake_wechat):
    """No worker ran (the complaint_created job is lost with Redis): the reconciler registers and sends."""
    from backend.content_security.jobs import reconcile_content_checks
    from backend.settings import get_settings

    _, case = await report(api, admin, 330302)
    redis_db.flushdb()  # the queued complaint_created job is gone
    assert await _checks(case["id"]) == {}
    ctx = {"settings": get_settings(), "wechat": app.state.wechat, "s3": app.state.s3}
    counts = await reconcile_content_checks(ctx)
    assert counts["registered"] >= 2
    assert await _checks(case["id"]) == {"text": "passed", "media": "submitted"}  # the photo's verdict comes by push
    again = await reconcile_content_checks(ctx)  # idempotent: nothing registered or sent twice
    assert again["registered"] == 0 and await _checks(case["id"]) == {"text": "passed", "media": "submitted"}
