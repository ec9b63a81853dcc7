"""Load helpers for bench/monitoring_ingest.py, run as separate processes.

    python bench/_mqtt_load.py pub PORT SENSORS_FILE MESSAGES PER_MSG START_HOUR [RATE [PART PARTS]]

With PART/PARTS, this publisher takes every PARTS-th sensor from PART on (several publisher processes
split one phase's load without sharing a sensor, so each sensor's readings stay in order).
    python bench/_mqtt_load.py sub PORT GROUP EXPECTED_READINGS
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def client(cid: str) -> mqtt.Client:
    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def pub(port: int, sensors_file: str, messages: int, per_msg: int, start_hour: int, rate: float,
        part: int = 0, parts: int = 1) -> None:
    topics = [line.strip() for line in open(sensors_file) if line.strip()][part::parts]
    c = client(f"bench-pub-{part}-{time.monotonic_ns()}")
    c.max_inflight_messages_set(10_000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    counters = [start_hour] * len(topics)
    started = time.perf_counter()
    last = None
    for i in range(messages):
        if rate:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        k = i % len(topics)
        if per_msg == 1:
            ts = (T0 + timedelta(hours=counters[k])) if not rate else datetime.now(UTC)
            counters[k] += 1
            body = json.dumps({"ts": ts.isoformat(), "value": 0.001 * (counters[k] % 50)})
        else:
            readings = []
            for _ in range(per_msg):
                readings.append({"ts": (T0 + timedelta(hours=counters[k])).isoformat(), "value": 0.001 * (counters[k] % 50)})
                counters[k] += 1
            body = json.dumps({"readings": readings})
        last = c.publish(topics[k], body, qos=1)
    if last is not None:
        last.wait_for_publish(120)
    print(json.dumps({"published": messages, "seconds": time.perf_counter() - started}), flush=True)
    c.disconnect()
    c.loop_stop()


def sub(port: int, group: str, expected: int) -> None:
    """A broker-only subscriber: decodes each payload and counts readings (QoS 1, auto-ack)."""
    state = {"n": 0, "first": None, "last": None}
    done = threading.Event()

    def on_message(c, u, m):  # noqa: ANN001
        body = json.loads(m.payload)
        state["n"] += len(body.get("readings", [])) or 1
        now = time.perf_counter()
        state["first"] = state["first"] or now
        state["last"] = now
        if state["n"] >= expected:
            done.set()

    c = client(f"bench-sub-{group}")
    c.on_message = on_message
    c.on_connect = lambda cl, *a: cl.subscribe(f"$share/{group}/zhijian/v1/+/+/telemetry", qos=1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    print("ready", flush=True)
    done.wait(600)
    span = (state["last"] or 0) - (state["first"] or 0)
    print(json.dumps({"readings": state["n"], "seconds": span}), flush=True)
    c.disconnect()
    c.loop_stop()


if __name__ == "__main__":
    if sys.argv[1] == "pub":
        pub(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
            float(sys.argv[7]) if len(sys.argv) > 7 else 0.0,
            *(int(x) for x in sys.argv[8:10]))
    else:
        sub(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
