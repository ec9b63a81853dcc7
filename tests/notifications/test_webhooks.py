"""Department webhooks: signed, retried on failure, logged, once per event."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from backend.notifications import delivery, service
from backend.notifications.tables import WebhookDelivery
from backend.settings import get_settings
from tests.support.api import mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


class Receiver:
    """A department's endpoint on loopback: records requests, can fail the first N with 503."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = 503 if outer.fail_first > 0 else 200
                outer.fail_first -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


async def test_signed_retried_and_logged(api, app, admin, receiver):
    created = await api.post(
        "/api/v1/webhooks",
        json={"name": "信用平台", "department": "市发改委", "url": receiver.url, "templates": ["material_failed"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    secret, hook_id = created.json()["secret"], created.json()["webhook"]["id"]
    assert "secret" not in created.json()["webhook"]

    pair = await mp_login(api)
    key = f"mat:{uuid.uuid4().hex}"
    result = await service.notify(
        [uuid.UUID(pair["user"]["id"])], "material_failed",
        {"material": "HRB400E Ø25", "project": "测试项目", "item": "屈服强度", "time": "现在"},
        dedup_key=key, settings=get_settings(), arq=None, subject=("batch", "B-1"),
    )
    assert len(result.webhook_pending) >= 1
    ours = [i for i in result.webhook_pending if (await WebhookDelivery.select(WebhookDelivery.webhook).where(WebhookDelivery.id == i).first())["webhook"] == uuid.UUID(hook_id)]
    receiver.fail_first = 1
    async with httpx.AsyncClient() as http:
        first = await delivery.deliver_webhooks(ours, settings=get_settings(), http=http)
        assert first == {"retrying": 1}
        await WebhookDelivery.update({WebhookDelivery.next_attempt_at: None}).where(WebhookDelivery.id == ours[0])
        assert await delivery.deliver_webhooks(ours, settings=get_settings(), http=http) == {"sent": 1}
        assert await delivery.deliver_webhooks(ours, settings=get_settings(), http=http) == {}

    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    ts, signature = headers["X-Zhijian-Timestamp"], headers["X-Zhijian-Signature"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["event"] == "material_failed" and payload["dedup_key"] == key
    assert payload["subject"] == {"type": "batch", "id": "B-1"} and payload["data"]["item"] == "屈服强度"
    assert headers["X-Zhijian-Event"] == "material_failed"

    # The same event notified again goes to the webhook no second time.
    again = await service.notify(
        [uuid.UUID(pair["user"]["id"])], "material_failed", {"material": "x"}, dedup_key=key,
        settings=get_settings(), arq=None,
    )
    assert again.webhook_pending == []
    log = (await api.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=admin)).json()
    assert log[0]["status"] == "sent" and log[0]["attempts"] == 2


async def test_only_city_admins_manage_webhooks(api, admin):
    lc_admin = await staff_token(api, "lc_admin")
    body = {"name": "x", "department": "y", "url": "http://127.0.0.1:9/x", "templates": ["material_failed"]}
    assert_error(await api.post("/api/v1/webhooks", json=body, headers=lc_admin), 403, "FORBIDDEN_ROLE")
    assert_error(await api.post("/api/v1/webhooks", json={**body, "url": "ftp://x"}, headers=admin), 400, "VALIDATION_ERROR")
    assert_error(await api.post("/api/v1/webhooks", json={**body, "templates": ["nope"]}, headers=admin), 400, "TEMPLATE_UNKNOWN")
    created = (await api.post("/api/v1/webhooks", json=body, headers=admin)).json()
    off = await api.post(f"/api/v1/webhooks/{created['webhook']['id']}/deactivate", headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
