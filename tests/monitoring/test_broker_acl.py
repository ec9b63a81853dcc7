"""The shipped Mosquitto config with generated credentials: a device publishes only to its own topic."""

from __future__ import annotations

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

from iot.credentials import Device, devices_for, write_broker_auth
from tests.support.env import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scripts" / "docker" / "mosquitto.conf"

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto binary not installed")


@pytest.fixture
def broker():
    """A private mosquitto from the shipped config (paths moved into a temp folder) with two devices."""
    work = Path(tempfile.mkdtemp(prefix="zhijian-acl-"))
    work.chmod(0o777)  # mosquitto started as root drops to its own user
    (work / "data").mkdir(mode=0o777)
    (work / "data").chmod(0o777)
    project = str(uuid.uuid4())
    devices = devices_for([(project, str(uuid.uuid4())), (project, str(uuid.uuid4()))], {})
    write_broker_auth(work / "auth", devices, "zhijian-iot", "worker-secret")
    port = free_port()
    conf = SHIPPED.read_text().replace("/mosquitto/auth/", f"{work}/auth/").replace(
        "/mosquitto/data/", f"{work}/data/").replace("listener 1883", f"listener {port} 127.0.0.1")
    (work / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(["mosquitto", "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("mosquitto did not start with the shipped config")
    yield port, devices
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(work, ignore_errors=True)


def _client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, object]:
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    result: dict[str, object] = {}
    done = threading.Event()

    def on_connect(c, userdata, flags, rc, props):  # noqa: ANN001
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert done.wait(10)
    return client, result["rc"]


def test_device_may_publish_only_its_own_topic(broker):
    port, (a, b) = broker
    received: list[str] = []
    worker, rc = _client(port, "zhijian-iot", "worker-secret")
    assert not rc.is_failure
    worker.on_message = lambda c, u, m: received.append(m.topic)
    subscribed = threading.Event()
    worker.on_subscribe = lambda *args: subscribed.set()
    worker.subscribe("$share/acl-test/zhijian/v1/+/+/telemetry", qos=1)
    assert subscribed.wait(10)
    dev, rc = _client(port, a.username, a.password)
    assert not rc.is_failure
    dev.publish(a.topic, '{"ts": "2026-06-01T08:00:00+08:00", "value": 1}', qos=1).wait_for_publish(10)
    dev.publish(b.topic, '{"ts": "2026-06-01T08:00:00+08:00", "value": 666}', qos=1).wait_for_publish(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not received:
        time.sleep(0.05)
    time.sleep(0.5)
    assert received == [a.topic]  # b's topic refused for a's credentials
    for c in (worker, dev):
        c.disconnect()
        c.loop_stop()


def test_wrong_password_and_anonymous_are_refused(broker):
    port, (a, _) = broker
    for user, password in ((a.username, "wrong"), (None, None), ("zhijian-iot", "nope")):
        client, rc = _client(port, user, password)
        assert rc.is_failure, (user, rc)
        client.loop_stop()


def test_worker_credentials_cannot_publish(broker):
    port, (a, _) = broker
    received: list[str] = []
    listener, _ = _client(port, a.username, a.password)  # a device may not read either
    listener.on_message = lambda c, u, m: received.append(m.topic)
    listener.subscribe(a.topic, qos=1)
    worker, _ = _client(port, "zhijian-iot", "worker-secret")
    worker.publish(a.topic, "{}", qos=1).wait_for_publish(10)
    time.sleep(0.5)
    assert received == []
    for c in (worker, listener):
        c.disconnect()
        c.loop_stop()


def test_credentials_keep_known_passwords():
    known = {"s1": "kept-password"}
    [d1, d2] = devices_for([("p", "s1"), ("p", "s2")], known)
    assert d1 == Device("s1", "kept-password", "zhijian/v1/p/s1/telemetry")
    assert d2.password and d2.password != "kept-password"
