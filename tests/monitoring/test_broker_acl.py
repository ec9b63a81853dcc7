"""The shipped Mosquitto configs with live-provisioned logins: a device publishes only to its own topic.

Every broker test runs twice: on scripts/docker/mosquitto.conf (docker-compose) and on the dev config
that scripts/run.sh writes from it (scripts/lib.sh ``dev_mosquitto_conf``). Both load the dynamic-security
plugin; logins are created and deleted over its control topic (issue 18): no files, no SIGHUP.
"""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from backend.clients.dynsec import DynSecTarget, run_commands
from backend.monitoring import provisioning
from iot.credentials import Device, devices_for, provision_live
from tests.support.broker import HAVE_DYNSEC, PLUGINS, SHIPPED, dev_conf, private_broker
from tests.support.env import free_port

pytestmark = pytest.mark.skipif(not HAVE_DYNSEC, reason="mosquitto with its dynamic-security plugin is not installed")


@pytest.fixture(params=["docker", "dev"])
def broker(request):
    """A private mosquitto from a shipped config, the worker and two devices provisioned live."""
    project = str(uuid.uuid4())
    devices = devices_for([(project, str(uuid.uuid4())), (project, str(uuid.uuid4()))], {})
    with private_broker(request.param) as b:
        provision_live(b.admin_url, devices, "zhijian-iot", "worker-secret")
        request.node.broker = b
        yield b.port, devices


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


def test_dev_config_is_the_compose_config_on_loopback(tmp_path):
    """One source of truth: the dev broker's config differs from the compose one only in where it listens,
    where its files are and where this machine keeps the plugin."""
    port, base = free_port(), tmp_path / "mosquitto"  # run.sh's folder is .run/mosquitto/data
    dev = [line for line in dev_conf(port, base / "data").splitlines() if not line.startswith("# Generated")]
    shipped = SHIPPED.read_text().splitlines()
    assert len(dev) == len(shipped)
    changed = {(a, b) for a, b in zip(shipped, dev, strict=True) if a != b}
    assert changed == {
        ("listener 1883", f"listener {port} 127.0.0.1"),
        ("persistence_location /mosquitto/data/", f"persistence_location {base}/data/"),
        ("plugin /usr/lib/mosquitto_dynamic_security.so", f"plugin {PLUGINS[0]}"),
        ("plugin_opt_config_file /mosquitto/data/dynamic-security.json",
         f"plugin_opt_config_file {base}/data/dynamic-security.json"),
    }
    for kept in ("allow_anonymous false", "max_inflight_messages 10000", "persistence true"):
        assert kept in dev
    assert not any(line.startswith(("password_file", "acl_file")) for line in dev)


def test_refused_publish_is_reported_in_the_puback(broker):
    """An MQTT 5 device publishing to another sensor's topic gets a failing PUBACK (demo-activity relies on it)."""
    port, (a, b) = broker
    codes: list[object] = []
    dev, rc = _client(port, a.username, a.password)
    assert not rc.is_failure
    dev.on_publish = lambda c, u, mid, reason_code, props: codes.append(reason_code)
    dev.publish(a.topic, "{}", qos=1).wait_for_publish(10)
    dev.publish(b.topic, "{}", qos=1).wait_for_publish(10)
    dev.disconnect()
    dev.loop_stop()
    assert [c.is_failure for c in codes] == [False, True], codes


def test_new_sensor_provisioned_live_and_retired_at_once(request, broker):
    """A sensor added after the broker started may connect as soon as its login is created over the control
    topic — no files, no SIGHUP (the broker process and its config are untouched) — and retiring it drops
    its live connection at once and refuses it afterwards."""
    port, devices = broker
    b = request.node.broker
    conf_before = (b.work / "mosquitto.conf").stat().st_mtime_ns
    project, sensor = str(uuid.uuid4()), str(uuid.uuid4())
    client, rc = _client(port, sensor, "pw-newcomer")
    client.loop_stop()
    assert rc.is_failure
    target = DynSecTarget.from_url(b.admin_url)
    run_commands(target, provisioning.device_commands(sensor, project, "pw-newcomer"), tolerate=provisioning.EXISTS)
    live, rc = _client(port, sensor, "pw-newcomer")
    assert not rc.is_failure, rc
    gone = threading.Event()
    live.on_disconnect = lambda *args: gone.set()
    acks: list[object] = []
    live.on_publish = lambda c, u, mid, reason_code, props: acks.append(reason_code)
    live.publish(provisioning.TOPIC.format(project_id=project, sensor_id=sensor), "{}", qos=1).wait_for_publish(10)
    assert [a.is_failure for a in acks] == [False]
    run_commands(target, provisioning.revoke_commands(sensor), tolerate=provisioning.GONE)
    assert gone.wait(5)  # the broker dropped the retired device's connection
    live.loop_stop()
    again, rc = _client(port, sensor, "pw-newcomer")
    again.loop_stop()
    assert rc.is_failure
    # the other devices are untouched, and nothing was reloaded
    other, rc = _client(port, devices[0].username, devices[0].password)
    assert not rc.is_failure
    other.disconnect()
    other.loop_stop()
    assert b.proc.poll() is None and (b.work / "mosquitto.conf").stat().st_mtime_ns == conf_before
