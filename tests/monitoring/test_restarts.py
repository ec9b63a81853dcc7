"""A killed worker and a restarted broker lose no QoS 1 reading and no rule state, and count nothing twice."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from backend.monitoring.tables import DeadLetter, Reading
from tests.monitoring.helpers import Publisher, make_sensor, reading, rule_state, tokens
from tests.support.env import free_port
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

RATE_PLAN = {"wall_top_horizontal": {"cumulative_abs": 1000, "rate_per_day": 24, "warning_ratio": 0.8,
                                     "consecutive_rate_ratio": 0.7, "consecutive_count": 3,
                                     "rate_min_span_s": 3600, "rate_window_s": 3600}}  # the plan: hourly rates, counted hourly


async def _stored(sensor_id):  # noqa: ANN001
    return await Reading.count().where(Reading.sensor == sensor_id)


async def test_killed_worker_loses_nothing_and_resumes_rule_state(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, alarm_values=RATE_PLAN)
    worker = start_iot()
    # Two rates above 70 % of the limit (counter = 2) before the crash …
    publisher.send(s["topic"], {"readings": [reading(i, 0.75 * i) for i in range(3)]})
    assert await eventually(lambda: _is(s["id"], 3), timeout=30)
    assert (await rule_state(s["id"]))["consecutive_over"] == 2
    # … 300 single readings published while the worker is being killed mid-stream …
    for i in range(3, 303):
        publisher.send(s["topic"], reading(i, 0.75 * i), qos=1)
        if i == 60:
            worker.kill()
    assert not worker.alive()
    worker.start()  # the same client id: the broker resumes the persistent session
    assert await eventually(lambda: _is(s["id"], 303), timeout=60)
    state = await rule_state(s["id"])
    assert state["last_value"] == 0.75 * 302 and state["consecutive_over"] == 302  # resumed, never reset
    alarms = (await api.get("/api/v1/monitoring/alarms", params={"project_id": s["project_id"]},
                            headers=toks["lead_wang"])).json()
    [alarm] = [a for a in alarms if a["sensor_id"] == s["id"]]
    assert alarm["level"] == 2 and alarm["raised_count"] == 1  # the third reading alarmed, once
    # Anything redelivered after its commit was recognised, not stored twice.
    dup = await DeadLetter.count().where((DeadLetter.sensor == s["id"]) & (DeadLetter.reason != "duplicate"))
    assert dup == 0


async def _is(sensor_id, n):  # noqa: ANN001
    return await _stored(sensor_id) == n


def _broker(conf, port):  # noqa: ANN001
    proc = subprocess.Popen(["mosquitto", "-c", str(conf), "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("private mosquitto did not start")


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto binary not installed")
async def test_broker_restart_keeps_queued_readings(api, start_iot):
    toks = await tokens(api)
    s = await make_sensor(api, toks, alarm_values=RATE_PLAN)
    port = free_port()
    # mosquitto started as root drops to its own user, which must reach and write the store.
    tmp_path = Path(tempfile.mkdtemp(prefix="zhijian-mqtt-"))
    tmp_path.chmod(0o777)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"allow_anonymous true\npersistence true\npersistence_location {tmp_path}/\n"
                    "max_queued_messages 100000\n")
    broker = _broker(conf, port)
    try:
        env = {"ZHIJIAN_MQTT_URL": f"mqtt://127.0.0.1:{port}"}
        worker = start_iot(env, client_id=f"iot-broker-restart-{port}")
        pub = Publisher(port=port)
        pub.send(s["topic"], {"readings": [reading(i, 0.75 * i) for i in range(3)]})
        assert await eventually(lambda: _is(s["id"], 3), timeout=30)
        worker.kill()
        for i in range(3, 53):
            pub.send(s["topic"], reading(i, 0.75 * i))  # queued in the broker for the worker's session
        pub.close()
        broker.terminate()  # saves its persistence file on the way out
        broker.wait(10)
        broker = _broker(conf, port)
        worker.start()
        assert await eventually(lambda: _is(s["id"], 53), timeout=60)
        assert (await rule_state(s["id"]))["consecutive_over"] == 52
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(tmp_path, ignore_errors=True)
