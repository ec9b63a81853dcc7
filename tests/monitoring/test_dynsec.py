"""Device logins provisioned live through Mosquitto's dynamic-security plugin (issue 18): a private broker on
a free port with mosquitto_dynamic_security.so, no files regenerated and no SIGHUP."""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from backend.clients.dynsec import DynSecError, DynSecTarget, run_commands
from backend.monitoring import provisioning
from tests.monitoring.helpers import make_sensor, tokens
from tests.support.env import free_port

PLUGINS = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob("/usr/lib/mosquitto_dynamic_security.so"))
pytestmark = pytest.mark.skipif(not (shutil.which("mosquitto") and shutil.which("mosquitto_ctrl") and PLUGINS),
                                reason="mosquitto with its dynamic-security plugin is not installed")
ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex


@pytest.fixture
def dynsec_broker():
    work = Path(tempfile.mkdtemp(prefix="zhijian-dynsec-"))
    work.chmod(0o777)  # mosquitto started as root drops to its own user, which saves the plugin's config
    config = work / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(config), "admin", ADMIN_PASSWORD], check=True,
                   capture_output=True)
    config.chmod(0o666)
    port = free_port()
    (work / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\nplugin {PLUGINS[0]}\nplugin_opt_config_file {config}\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield proc, port, f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{port}", config
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


class Client:
    """A paho MQTT 5 client that records its CONNACK, PUBACK reason codes, messages and disconnects."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.connected, self.gone = threading.Event(), threading.Event()
        self.acks: list[object] = []
        self.messages: list[str] = []
        self.subacks: list[object] = []
        self.c.on_connect = lambda c, u, f, rc, p: (setattr(self, "rc", rc), self.connected.set())
        self.c.on_disconnect = lambda c, u, f, rc, p: self.gone.set()
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.append(rc)
        self.c.on_message = lambda c, u, m: self.messages.append(m.topic)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.extend(rcs)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(10)

    @property
    def ok(self) -> bool:
        return not self.rc.is_failure

    def publish(self, topic: str) -> None:
        self.c.publish(topic, json.dumps({"ts": "2026-06-01T08:00:00+08:00", "value": 1.0}), qos=1).wait_for_publish(10)

    def subscribe(self, topic: str) -> None:
        self.c.subscribe(topic, qos=1)
        deadline = time.monotonic() + 10
        while not self.subacks and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_live_provisioning_one_topic_per_device_without_files_or_sighup(dynsec_broker):
    proc, port, url, config = dynsec_broker
    target = DynSecTarget.from_url(url)
    project, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    run_commands(target, provisioning.worker_commands("zhijian-iot", "worker-secret"), tolerate=provisioning.EXISTS)
    run_commands(target, provisioning.device_commands(a, project, "pw-a"), tolerate=provisioning.EXISTS)
    run_commands(target, provisioning.device_commands(b, project, "pw-b"), tolerate=provisioning.EXISTS)
    topic_a = provisioning.TOPIC.format(project_id=project, sensor_id=a)
    topic_b = provisioning.TOPIC.format(project_id=project, sensor_id=b)
    worker = Client(port, "zhijian-iot", "worker-secret")
    worker.subscribe("$share/zhijian/zhijian/v1/+/+/telemetry")
    assert [r.is_failure for r in worker.subacks] == [False]
    dev = Client(port, str(a), "pw-a")
    assert dev.ok
    dev.publish(topic_a)
    dev.publish(topic_b)  # another sensor's topic
    dev.subscribe(topic_a)  # devices read nothing
    deadline = time.monotonic() + 5
    while not worker.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert worker.messages == [topic_a]
    assert [r.is_failure for r in dev.acks] == [False, True] and dev.acks[1].value == 0x87
    assert [r.is_failure for r in dev.subacks] == [True]
    worker.publish(topic_a)  # the worker publishes nothing
    time.sleep(0.3)
    assert worker.acks[0].is_failure
    for refused in ((str(a), "wrong"), ("zhijian-iot", "nope"), (str(uuid.uuid4()), "x")):
        c = Client(port, *refused)
        assert not c.ok, refused
        c.close()
    # Re-running the provisioning of a device re-keys it (the old password stops working at once).
    run_commands(target, provisioning.device_commands(a, project, "pw-a2"), tolerate=provisioning.EXISTS)
    old = Client(port, str(a), "pw-a")
    assert not old.ok
    old.close()
    # Revoking deletes the login: the connected device is dropped and cannot come back.
    run_commands(target, provisioning.revoke_commands(a), tolerate=provisioning.GONE)
    assert dev.gone.wait(5)
    again = Client(port, str(a), "pw-a2")
    assert not again.ok
    again.close()
    # The same broker process throughout (no restart, no SIGHUP), and it saved its own config.
    assert proc.poll() is None
    saved = json.loads(config.read_text())
    assert {c["username"] for c in saved["clients"]} >= {"zhijian-iot", str(b)}
    assert str(a) not in {c["username"] for c in saved["clients"]}
    worker.close()
    dev.close()
    with pytest.raises(DynSecError):
        run_commands(DynSecTarget("127.0.0.1", port, "admin", "wrong"), [{"command": "listClients"}], timeout=3)


@pytest.mark.asyncio
async def test_sensor_created_gets_its_login_at_once_and_retiring_revokes_it(api, dynsec_broker, monkeypatch):
    _, port, url, _ = dynsec_broker
    monkeypatch.setattr(api.app.state, "settings", dataclasses.replace(api.app.state.settings, MQTT_DYNSEC_URL=url))
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # POST /points/{id}/sensors provisions the device
    password = s["device_password"]
    assert password and s["topic"].endswith(f"/{s['id']}/telemetry")
    dev = Client(port, s["id"], password)
    assert dev.ok  # no files, no SIGHUP: the login works the moment the API answered
    dev.publish(s["topic"])
    assert [r.is_failure for r in dev.acks] == [False]
    got = await api.get(f"/api/v1/monitoring/sensors/{s['id']}", headers=toks["lead_wang"])
    assert got.json()["device_password"] is None  # shown once
    # A new password from the API; the old one is refused from then on.
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/credentials", headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    new = resp.json()["device_password"]
    assert new and new != password
    stale = Client(port, s["id"], password)
    assert not stale.ok
    stale.close()
    assert (await api.post(f"/api/v1/monitoring/sensors/{s['id']}/credentials",
                           headers=toks["lw_inspector"])).status_code == 403
    # Retiring takes the supervisor (the lead may not); the login is revoked at once.
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/retire", json={"note": "基坑回填完成"},
                          headers=toks["lead_wang"])
    assert resp.status_code == 403 and resp.json()["code"] == "FORBIDDEN_ROLE"  # the route table: supervisor or staff
    dev2 = Client(port, s["id"], new)
    assert dev2.ok
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/retire", json={"note": "基坑回填完成"},
                          headers=toks["sup_li"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "retired" and resp.json()["events"][-1]["kind"] == "retired"
    assert dev2.gone.wait(5)
    after = Client(port, s["id"], new)
    assert not after.ok
    for c in (dev, dev2, after):
        c.close()


@pytest.mark.asyncio
async def test_a_broker_that_cannot_be_told_leaves_the_sensor_active(api, monkeypatch):
    port = free_port()  # nothing listens there
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    monkeypatch.setattr(api.app.state, "settings", dataclasses.replace(
        api.app.state.settings, MQTT_DYNSEC_URL=f"mqtt://admin:x@127.0.0.1:{port}"))
    resp = await api.post(f"/api/v1/monitoring/sensors/{s['id']}/retire", json={"note": "拆除"}, headers=toks["sup_li"])
    assert resp.status_code == 502 and resp.json()["code"] == "BROKER_UNAVAILABLE"
    detail = await api.get(f"/api/v1/monitoring/sensors/{s['id']}/lifecycle", headers=toks["lead_wang"])
    assert detail.json()["status"] == "active" and detail.json()["events"] == []


def test_existing_sensors_and_the_worker_provisioned_live_in_one_go(dynsec_broker):
    """`python -m iot.credentials --dynsec URL`'s step: every known device and the worker, live."""
    from iot.credentials import devices_for, provision_live

    proc, port, url, _ = dynsec_broker
    project = str(uuid.uuid4())
    devices = devices_for([(project, str(uuid.uuid4())), (project, str(uuid.uuid4()))], {})
    provision_live(url, devices, "zhijian-iot", "worker-secret")
    provision_live(url, devices, "zhijian-iot", "worker-secret")  # again: idempotent
    worker = Client(port, "zhijian-iot", "worker-secret")
    worker.subscribe("$share/zhijian/zhijian/v1/+/+/telemetry")
    for d in devices:
        dev = Client(port, d.username, d.password)
        assert dev.ok
        dev.publish(d.topic)
        dev.close()
    deadline = time.monotonic() + 5
    while len(worker.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(worker.messages) == sorted(d.topic for d in devices)
    worker.close()
    assert proc.poll() is None


@pytest.mark.asyncio
async def test_credentials_command_provisions_live_without_rekeying(api, dynsec_broker, monkeypatch, tmp_path):
    """`python -m iot.credentials --out DIR --dynsec URL` (run.sh, compose's mqtt-auth): no broker files; sensors
    the broker does not know get a login (listed in devices.csv); one the API provisioned keeps its password."""
    import os
    import sys

    _, port, url, _ = dynsec_broker
    toks = await tokens(api)
    offline = await make_sensor(api, toks)  # made while provisioning was off: the broker does not know it
    assert offline["device_password"] is None
    monkeypatch.setattr(api.app.state, "settings", dataclasses.replace(api.app.state.settings, MQTT_DYNSEC_URL=url))
    online = await make_sensor(api, toks)
    given = online["device_password"]
    out = tmp_path / "auth"
    for _ in range(2):  # idempotent
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "iot.credentials", "--out", str(out), "--dynsec", url],
            env={**os.environ, "MQTT_WORKER_PASSWORD": "worker-secret"}, capture_output=True, text=True, timeout=120,
            check=False)
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["devices.csv"]  # no passwd, no acl
    import csv
    import io

    sheet = {row["username"]: row for row in csv.DictReader(io.StringIO((out / "devices.csv").read_text()))}
    assert online["id"] not in sheet and offline["id"] in sheet
    assert sheet[offline["id"]]["topic"] == offline["topic"]
    kept = Client(port, online["id"], given)  # the API's password still works
    assert kept.ok
    kept.close()
    dev = Client(port, offline["id"], sheet[offline["id"]]["password"])
    assert dev.ok
    dev.publish(offline["topic"])
    assert [r.is_failure for r in dev.acks] == [False]
    dev.close()
    worker = Client(port, "zhijian-iot", "worker-secret")
    assert worker.ok
    worker.close()
