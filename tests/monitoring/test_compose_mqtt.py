"""docker-compose's broker (issue 18): only the TLS listener is published, and the shipped config plus the
TLS snippet, exactly as the mosquitto service's command joins them, serves devices over TLS with their logins."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from iot.credentials import devices_for, provision_live
from tests.support.broker import ADMIN_USER, HAVE_DYNSEC, PLUGINS, ROOT, SHIPPED, dynsec_init
from tests.support.env import free_port

TLS_SNIPPET = ROOT / "scripts" / "docker" / "mosquitto-tls.conf"


def test_compose_publishes_only_the_tls_listener():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mosquitto = compose["services"]["mosquitto"]
    assert mosquitto["ports"] == ["${MQTT_TLS_PORT:-8883}:8883"]
    command = " ".join(mosquitto["command"])
    assert "/mosquitto/config/mosquitto.conf /mosquitto/config/mosquitto-tls.conf" in command
    for service in compose["services"].values():  # nothing else exposes MQTT
        assert not any(str(p).endswith(":1883") for p in service.get("ports", []))


def test_compose_provisions_live_through_the_plugin():
    """The broker makes its dynamic-security admin on first start; mqtt-auth provisions over the control topic
    (no files for the broker, which mounts no auth volume); only the API gets the admin login."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    mosquitto = services["mosquitto"]
    command = " ".join(mosquitto["command"])
    assert "mosquitto_ctrl dynsec init /mosquitto/data/dynamic-security.json" in command
    assert not any("/mosquitto/auth" in str(v) for v in mosquitto["volumes"])
    assert "--dynsec" in services["mqtt-auth"]["command"]
    assert "@mosquitto:1883" in services["api"]["environment"]["ZHIJIAN_MQTT_DYNSEC_URL"]
    # the workers start once their login exists
    assert "mqtt-auth" in services["iot-worker"]["depends_on"]


@pytest.mark.skipif(not HAVE_DYNSEC or shutil.which("openssl") is None,
                    reason="mosquitto with its dynamic-security plugin, or openssl, not installed")
def test_the_joined_config_serves_devices_over_tls():
    # not pytest's tmp_path: its parents are private to root, and mosquitto drops to its own user
    tmp_path = Path(tempfile.mkdtemp(prefix="zhijian-tls-"))
    tmp_path.chmod(0o777)
    certs, data = tmp_path / "certs", tmp_path / "data"
    certs.mkdir()
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(certs / "server.key"), "-out", str(certs / "server.crt")], check=True,
                   capture_output=True)
    (certs / "server.key").chmod(0o644)  # mosquitto drops to its own user
    project = str(uuid.uuid4())
    [device] = devices_for([(project, str(uuid.uuid4()))], {})
    admin_password = "admin-" + uuid.uuid4().hex
    dynsec_init(data, admin_password)  # what the service's command does on first start
    plain, tls = free_port(), free_port()
    joined = SHIPPED.read_text() + "\n" + TLS_SNIPPET.read_text()  # what the service's command does
    joined = (joined.replace("listener 1883", f"listener {plain} 127.0.0.1")
              .replace("listener 8883", f"listener {tls} 127.0.0.1")
              .replace("/mosquitto/data/", f"{data}/")
              .replace("plugin /usr/lib/mosquitto_dynamic_security.so", f"plugin {PLUGINS[0]}")
              .replace("/mosquitto/certs/", f"{certs}/"))
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(joined)
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # mqtt-auth's step, over the plain listener (the compose network's)
            try:
                provision_live(f"mqtt://{ADMIN_USER}:{admin_password}@127.0.0.1:{plain}", [device], "zhijian-iot",
                               "worker-secret")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        codes: list[object] = []
        done = threading.Event()
        for _ in range(100):
            client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                 client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
            client.tls_set(ca_certs=str(certs / "server.crt"), cert_reqs=ssl.CERT_REQUIRED)
            client.username_pw_set(device.username, device.password)
            client.on_connect = lambda c, u, f, rc, p: (codes.append(rc), done.set())
            try:
                client.connect("127.0.0.1", tls)
                break
            except OSError:  # not listening yet
                time.sleep(0.1)
        client.loop_start()
        assert done.wait(10)
        assert not codes[0].is_failure, codes
        acks: list[object] = []
        client.on_publish = lambda c, u, mid, rc, p: acks.append(rc)
        client.publish(device.topic, '{"ts": "2026-06-01T08:00:00+08:00", "value": 1}', qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        assert [a.is_failure for a in acks] == [False]
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp_path, ignore_errors=True)
