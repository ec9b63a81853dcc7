"""Load helpers for bench/monitoring_ingest.py, run as separate processes.

    python bench/_mqtt_load.py pub PORT SENSORS_FILE MESSAGES PER_MSG START_HOUR [RATE [PART PARTS]]

With PART/PARTS, this publisher takes every PARTS-th sensor from PART on (several publisher processes
split one phase's load without sharing a sensor, so each sensor's readings stay in order).
    python bench/_mqtt_load.py sub PORT GROUP EXPECTED_READINGS
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backend.clients.mqtt import BufferedClient  # noqa: E402

# Hourly series from here: the phases start at hour 0, 50,000, 100,000 and 200,000, so every stamp stays in the past
# (the worker refuses readings stamped ahead of their arrival, issue 18).
T0 = datetime(2000, 1, 1, tzinfo=UTC)


def client(cid: str) -> mqtt.Client:
    """The broker-only subscriber reads the socket the way the worker does (BufferedClient), so the two
    differ only in what they do with a message."""
    c = BufferedClient(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


class RawPublisher:
    """A minimal MQTT 3.1.1 QoS 1 publisher on a plain socket: the load generator must cost far less than
    the worker it loads (a paho publisher tops out near 2k messages/s and takes a core doing it).

    Packets are built in chunks and written with one sendall each; a reader thread counts PUBACKs, and at
    most ``window`` messages are unacknowledged at once, so packet ids (1..65535) are never reused early.
    """

    def __init__(self, port: int, cid: str, window: int = 30_000) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid_b = cid.encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid_b)) + cid_b
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = self._read_exact(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"CONNACK refused: {connack!r}")
        self.sent = 0
        self.acked = 0
        self.window = window
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read_acks, daemon=True)
        self.reader.start()

    def _read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            buf += chunk
        return buf

    def _read_acks(self) -> None:
        pending = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            whole = len(pending) // 4  # PUBACK v3.1.1 is always 4 bytes: 0x40 0x02 id id
            pending = pending[whole * 4:]
            with self.cond:
                self.acked += whole
                self.cond.notify_all()

    def send(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Publish (topic, payload) pairs at QoS 1 with one write."""
        with self.cond:
            self.cond.wait_for(lambda: self.sent - self.acked + len(messages) <= self.window, timeout=120)
        parts = []
        for topic, payload in messages:
            self.sent += 1
            pid = (self.sent - 1) % 65535 + 1
            parts.append(b"\x32" + _varint(2 + len(topic) + 2 + len(payload)) + struct.pack("!H", len(topic)) + topic
                         + struct.pack("!H", pid) + payload)
        self.sock.sendall(b"".join(parts))

    def wait_acked(self, timeout: float = 120) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.acked >= self.sent, timeout=timeout)

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        finally:
            self.sock.close()


def pub(port: int, sensors_file: str, messages: int, per_msg: int, start_hour: int, rate: float,
        part: int = 0, parts: int = 1) -> None:
    """Publish ``messages`` messages round-robin over the sensors, flat out (rate 0) or at ``rate`` per second."""
    topics = [line.strip().encode() for line in open(sensors_file) if line.strip()][part::parts]
    c = RawPublisher(port, f"bench-pub-{part}-{time.monotonic_ns()}")
    counters = [start_hour] * len(topics)
    started = time.perf_counter()
    first_send = time.time()  # wall clock, so the bench times the worker and the broker-only subscriber from it
    i = 0
    chunk = 500 if per_msg == 1 else 20
    while i < messages:
        if rate:
            due = min(messages, int((time.perf_counter() - started) * rate) + 1)
            if due <= i:
                time.sleep(0.002)
                continue
            n = due - i
        else:
            n = min(chunk, messages - i)
        batch = []
        for j in range(i, i + n):
            k = j % len(topics)
            if per_msg == 1:
                ts = (T0 + timedelta(hours=counters[k])).isoformat()
                counters[k] += 1
                body = f'{{"ts": "{ts}", "value": {0.001 * (counters[k] % 50)!r}}}'
            else:
                readings = []
                for _ in range(per_msg):
                    readings.append(f'{{"ts": "{(T0 + timedelta(hours=counters[k])).isoformat()}", '
                                    f'"value": {0.001 * (counters[k] % 50)!r}}}')
                    counters[k] += 1
                body = '{"readings": [' + ", ".join(readings) + "]}"
            batch.append((topics[k], body.encode()))
        c.send(batch)
        i += n
    if not c.wait_acked():
        raise RuntimeError("the broker did not acknowledge every message")
    print(json.dumps({"published": messages, "seconds": time.perf_counter() - started, "first_send": first_send}),
          flush=True)
    c.close()


def sub(port: int, group: str, expected: int) -> None:
    """A broker-only subscriber: decodes each payload and counts readings (QoS 1, auto-ack)."""
    state = {"n": 0, "first": None, "last": None}
    done = threading.Event()

    def on_message(c, u, m):  # noqa: ANN001
        body = json.loads(m.payload)
        state["n"] += len(body.get("readings", [])) or 1
        now = time.time()
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
    print(json.dumps({"readings": state["n"], "seconds": span, "first": state["first"], "last": state["last"]}),
          flush=True)
    c.disconnect()
    c.loop_stop()


if __name__ == "__main__":
    if sys.argv[1] == "pub":
        pub(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
            float(sys.argv[7]) if len(sys.argv) > 7 else 0.0,
            *(int(x) for x in sys.argv[8:10]))
    else:
        sub(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
