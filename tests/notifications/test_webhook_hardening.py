"""Webhooks hardened (issue 17): the address checked again right before each POST (DNS rebinding) and the
connection made to the address checked; signing secrets sealed at rest, sealed by the migration, re-sealed by
key rotation (with camera credentials). Real services; the only seam is the resolver of backend/access/addresses.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import importlib
import uuid

import httpx
import pytest

from backend.access import addresses
from backend.notifications import delivery, service
from backend.notifications.tables import DeliveryAttempt, Webhook, WebhookDelivery
from backend.settings import get_settings
from backend.workforce import pii_rotation
from backend.workforce.pii import cipher
from tests.materials.helpers import world as materials_world
from tests.notifications.test_webhooks import Receiver
from tests.support.api import mp_login

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOST = "hooks.example.test"  # .test never resolves in real DNS: a send that arrives went to the pinned address
PUBLIC = "93.184.216.34"


class Names:
    """A resolver the test steers: name → addresses, changed between registration and send (rebinding)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such name")
        return list(self.answers[host])


@pytest.fixture
def names():
    steer = Names()
    previous = addresses.set_resolver(steer)
    yield steer
    addresses.set_resolver(previous)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


async def _register(api, admin, url: str) -> tuple[str, str]:
    created = await api.post("/api/v1/webhooks", json={"name": "信用平台", "department": "市发改委", "url": url,
                                                       "templates": ["material_failed"]}, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()["secret"], created.json()["webhook"]["id"]


async def _event_for(hook_id: str, api) -> uuid.UUID:
    pair = await mp_login(api)
    result = await service.notify(
        [uuid.UUID(pair["user"]["id"])], "material_failed",
        {"material": "HRB400E Ø25", "project": "测试项目", "item": "屈服强度", "time": "现在"},
        dedup_key=f"hard:{uuid.uuid4().hex}", settings=get_settings(), arq=None, subject=("batch", "B-9"),
    )
    rows = await WebhookDelivery.select(WebhookDelivery.id).where(
        WebhookDelivery.id.is_in(result.webhook_pending) & (WebhookDelivery.webhook == uuid.UUID(hook_id)))
    assert len(rows) == 1
    return rows[0]["id"]


async def test_a_name_rebound_inside_the_network_is_refused_at_send_time_and_recorded(api, admin, names, receiver):
    names.answers[HOST] = [PUBLIC]  # public when registered …
    _, hook_id = await _register(api, admin, f"http://{HOST}:{receiver.server.server_port}/hook")
    try:
        receipt = await _event_for(hook_id, api)
        names.answers[HOST] = ["127.0.0.1"]  # … loopback when sent
        production = dataclasses.replace(get_settings(), OUTBOUND_ALLOW=())  # nothing allow-listed
        async with httpx.AsyncClient() as http:
            assert await delivery.deliver_webhooks([receipt], settings=production, http=http) == {"failed": 1}
            assert await delivery.deliver_webhooks([receipt], settings=production, http=http) == {}  # not retried
        assert receiver.received == []  # nothing reached the inside of the network
        log = (await api.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=admin)).json()
        assert log[0]["status"] == "failed" and log[0]["attempts"] == 1 and log[0]["finished_at"]
        assert log[0]["reason"].startswith("outbound_refused: internal address")
        attempts = await DeliveryAttempt.select().where(DeliveryAttempt.delivery_id == receipt)
        assert [(a["outcome"], a["detail"][:16]) for a in attempts] == [("failed", "outbound_refused")]
    finally:
        await api.post(f"/api/v1/webhooks/{hook_id}/deactivate", headers=admin)


async def test_the_post_goes_to_the_checked_address_with_the_registered_name(api, admin, names, receiver):
    names.answers[HOST] = ["127.0.0.1"]  # allow-listed in the test settings (OUTBOUND_ALLOW 127.0.0.0/8)
    port = receiver.server.server_port
    secret, hook_id = await _register(api, admin, f"http://{HOST}:{port}/hook")
    try:
        receipt = await _event_for(hook_id, api)
        asked = len(names.asked)
        async with httpx.AsyncClient() as http:
            assert await delivery.deliver_webhooks([receipt], settings=get_settings(), http=http) == {"sent": 1}
        assert names.asked[asked:] == [HOST]  # resolved once, at send time, by the checked resolver only
        headers, body = receiver.received[-1]
        assert headers["Host"] == f"{HOST}:{port}"
        ts = headers["X-Zhijian-Timestamp"]
        assert headers["X-Zhijian-Signature"] == "sha256=" + hmac.new(
            secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    finally:
        await api.post(f"/api/v1/webhooks/{hook_id}/deactivate", headers=admin)


async def test_an_unresolvable_name_is_retried_not_dropped(api, admin, names, receiver):
    names.answers[HOST] = [PUBLIC]
    _, hook_id = await _register(api, admin, f"http://{HOST}:{receiver.server.server_port}/hook")
    try:
        receipt = await _event_for(hook_id, api)
        names.answers.clear()  # DNS answers nothing for a while
        async with httpx.AsyncClient() as http:
            assert await delivery.deliver_webhooks([receipt], settings=get_settings(), http=http) == {"retrying": 1}
        row = await WebhookDelivery.select().where(WebhookDelivery.id == receipt).first()
        assert row["reason"].startswith("outbound_unresolvable") and row["next_attempt_at"] is not None
    finally:
        await api.post(f"/api/v1/webhooks/{hook_id}/deactivate", headers=admin)


async def test_the_signing_secret_is_sealed_at_rest_and_never_returned(api, admin, receiver):
    secret, hook_id = await _register(api, admin, receiver.url)
    await api.post(f"/api/v1/webhooks/{hook_id}/deactivate", headers=admin)
    stored = (await Webhook.select(Webhook.secret).where(Webhook.id == uuid.UUID(hook_id)).first())["secret"]
    settings = get_settings()
    assert stored.startswith(f"k{settings.PII_KEY_ID}.") and secret not in stored
    assert cipher(settings).decrypt(stored, "webhook_secret") == secret
    with pytest.raises(Exception):  # noqa: B017 - bound to its context: a camera credential's key does not open it
        cipher(settings).decrypt(stored, "camera_url")
    listed = await api.get("/api/v1/webhooks", headers=admin)
    assert listed.status_code == 200 and secret not in listed.text and stored not in listed.text
    assert all("secret" not in hook for hook in listed.json())


MIGRATION = "migrations.notifications.notifications_2026_12_05t00_00_00_000000"


async def test_the_migration_seals_secrets_stored_in_the_clear(api, admin, receiver):
    plain = uuid.uuid4().hex + uuid.uuid4().hex  # what registration stored before: 64 hex characters
    hook_id = uuid.uuid4()
    await Webhook.raw("INSERT INTO webhooks (id, name, department, url, secret, templates, active)"
                      " VALUES ({}, '旧钩子', '测试', {}, {}, ARRAY['material_failed'], false)",
                      hook_id, receiver.url, plain)
    migration = importlib.import_module(MIGRATION)
    assert await migration.seal_plain_secrets() >= 1
    stored = (await Webhook.select(Webhook.secret).where(Webhook.id == hook_id).first())["secret"]
    assert stored != plain and delivery.open_secret(get_settings(), stored) == plain
    assert await migration.seal_plain_secrets() == 0  # a second run finds nothing in the clear


async def test_key_rotation_reseals_webhook_secrets_and_camera_credentials(api, admin, receiver):
    secret, hook_id = await _register(api, admin, receiver.url)
    await api.post(f"/api/v1/webhooks/{hook_id}/deactivate", headers=admin)
    w = await materials_world(api, admin)
    made = await api.post("/api/v1/cameras", json={
        "project_id": w["project"]["id"], "name": f"轮换{uuid.uuid4().hex[:4]}", "source": "http_snapshot",
        "url": "http://cam:r0tate-pw@127.0.0.1:9/x.jpg", "interval_s": 3600, "enabled": False}, headers=w["lead"])
    assert made.status_code == 201, made.text
    settings = get_settings()
    rotated = dataclasses.replace(settings, PII_KEY="r" * 40, PII_KEY_ID=settings.PII_KEY_ID + 1,
                                  PII_OLD_KEYS=(f"{settings.PII_KEY_ID}:{settings.PII_KEY}",))
    try:
        done = await pii_rotation.reencrypt(rotated)
        assert done["webhooks"] >= 1 and done["cameras"] >= 1
        assert await pii_rotation.remaining(rotated) == 0
        hook = await Webhook.select(Webhook.secret).where(Webhook.id == uuid.UUID(hook_id)).first()
        assert hook["secret"].startswith(f"k{rotated.PII_KEY_ID}.")
        assert delivery.open_secret(rotated, hook["secret"]) == secret
        cam = (await Webhook.raw("SELECT url_credentials FROM cameras WHERE id = {}", uuid.UUID(made.json()["id"])))[0]
        assert cam["url_credentials"].startswith(f"k{rotated.PII_KEY_ID}.")
        assert cipher(rotated).decrypt(cam["url_credentials"], "camera_url") == "cam:r0tate-pw"
    finally:  # back to the test key (the new one retired-but-readable), so the rest of the run reads as before
        back = dataclasses.replace(settings, PII_OLD_KEYS=(f"{rotated.PII_KEY_ID}:{rotated.PII_KEY}",))
        await pii_rotation.reencrypt(back)
    assert await pii_rotation.remaining(settings) == 0


@pytest.mark.parametrize(("url", "address", "expected"), [
    ("https://hooks.example.test/h?x=1", "93.184.216.34",
     ("https://93.184.216.34/h?x=1", "hooks.example.test", "hooks.example.test")),
    ("http://u:p%40ss@hooks.example.test:8080/h", "2001:db8::5",
     ("http://u:p%40ss@[2001:db8::5]:8080/h", "hooks.example.test:8080", "hooks.example.test")),
    ("http://[::ffff:8.8.8.8]:81/h", "::ffff:8.8.8.8", ("http://8.8.8.8:81/h", "[::ffff:8.8.8.8]:81", "::ffff:8.8.8.8")),
])
async def test_pinned_url_connects_to_the_address_and_keeps_the_name(url, address, expected):
    import ipaddress

    assert addresses.pinned_url(url, ipaddress.ip_address(address)) == expected


class TlsReceiver:
    """An HTTPS receiver on loopback (HTTP/1.1 keep-alive) whose certificate names only ``name``; it counts the
    TLS connections it accepts and the server names (SNI) they asked for."""

    def __init__(self, ca, name: str) -> None:  # noqa: ANN001
        import http.server
        import ssl
        import threading

        self.sni: list[str | None] = []
        self.received: list[str] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(name).configure_cert(context)
        context.sni_callback = lambda sock, server_name, ctx: self.sni.append(server_name)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_two_https_names_on_one_address_never_share_a_verified_connection(api, admin, names):
    """A pinned HTTPS connection is made to the address, with the registered name for SNI and the certificate
    check: a connection opened (and verified) for one name must not carry a delivery to another name on the same
    address — else the second name's certificate is never checked. The receiver's certificate covers only
    a.hooks.test: the delivery to b.hooks.test must fail its TLS check, whatever went to a.hooks.test before."""
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    tls = TlsReceiver(ca, "a.hooks.test")
    port = tls.server.server_port
    names.answers["a.hooks.test"] = ["127.0.0.1"]
    names.answers["b.hooks.test"] = ["127.0.0.1"]
    _, hook_a = await _register(api, admin, f"https://a.hooks.test:{port}/hook")
    _, hook_b = await _register(api, admin, f"https://b.hooks.test:{port}/hook")
    try:
        first, second = await _event_for(hook_a, api), await _event_for(hook_b, api)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        async with httpx.AsyncClient(verify=client_context) as http:
            assert await delivery.deliver_webhooks([first], settings=get_settings(), http=http) == {"sent": 1}
            assert await delivery.deliver_webhooks([second], settings=get_settings(), http=http) == {"retrying": 1}
        assert tls.received == [f"a.hooks.test:{port}"]  # nothing reached the receiver under the name it cannot prove
        b = await WebhookDelivery.select(WebhookDelivery.reason).where(WebhookDelivery.id == second).first()
        assert b["reason"].startswith("network:")
        assert "a.hooks.test" in tls.sni
    finally:
        tls.close()
        for hook in (hook_a, hook_b):
            await api.post(f"/api/v1/webhooks/{hook}/deactivate", headers=admin)
