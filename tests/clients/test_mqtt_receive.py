"""The ingest worker's fast MQTT receive path gives exactly what paho's own decoding gives."""

from __future__ import annotations

import struct

import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from backend.clients.mqtt import _BufferedSocket, _fast_publish_decoding

V5 = MQTTProtocolVersion.MQTTv5


def _publish(topic: bytes, qos: int, props: bytes, payload: bytes, mid: int = 4242) -> bytes:
    return struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"") + props + payload


@pytest.fixture(scope="module")
def decoders():
    _fast_publish_decoding()
    original = _packet.decode_publish.zhijian_original
    return original, _packet.decode_publish


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("flags", [0x00, 0x08, 0x01, 0x09])
@pytest.mark.parametrize(
    ("props", "payload"),
    [
        (b"\x00", b'{"ts": "2026-12-02T08:00:00+08:00", "value": 1.5}'),
        (b"\x00", b""),  # an empty payload
        (b"\x02\x01\x01", b"x"),  # with a property: paho's own path
        (b"\x03\x23\x00\x05", b"alias"),  # a topic alias (empty topic allowed in v5)
    ],
)
def test_same_packet_as_paho(decoders, qos, flags, props, payload):
    original, fast = decoders
    topic = b"" if props.startswith(b"\x03\x23") else b"zhijian/v1/p/s/telemetry"
    packet = _publish(topic, qos, props, payload)
    header = 0x30 | (qos << 1) | flags
    a, b = original(header, packet, V5), fast(header, packet, V5)
    assert (a.dup, a.qos, a.retain, a.topic, a.mid, bytes(a.payload)) == (b.dup, b.qos, b.retain, b.topic, b.mid, bytes(b.payload))
    assert str(a.properties) == str(b.properties)
    assert not hasattr(b.properties, "TopicAlias") or props.startswith(b"\x03\x23")


def test_installed_once(decoders):
    _, fast = decoders
    _fast_publish_decoding()
    assert _packet.decode_publish is fast


class _Chunks:
    """A socket that hands out prepared chunks, then says it would block."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def recv(self, n: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        return self.chunks.pop(0)

    def fileno(self) -> int:
        return 99


def test_buffered_socket_serves_small_reads_from_one_large_one():
    sock = _BufferedSocket(_Chunks([b"abcdefgh", b"ij"]))
    assert sock.recv(1) == b"a" and sock.pending() == 7
    assert sock.recv(3) == b"bcd" and sock.recv(10) == b"efgh" and sock.pending() == 0
    assert sock.recv(5) == b"ij"  # smaller than asked: handed over as it came
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    assert sock.fileno() == 99


def _packet_bytes(first: int, body: bytes) -> bytes:
    n, length = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (128 if n else 0)])
        if not n:
            return bytes([first]) + length + body


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 70_000])  # 1-, 2- and 3-byte lengths
def test_take_packet_gives_whole_packets_only(size):
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    stream = _packet_bytes(0x32, body) + _packet_bytes(0x40, b"\x00\x07")
    sock = _BufferedSocket(_Chunks([]))
    for cut in sorted({0, 1, 2, len(stream) - 5, len(stream) - 4, len(stream)}):
        sock._buf, sock._pos = stream[:cut], 0  # as much as one read brought
        whole = [sock.take_packet(), sock.take_packet()]
        first_fits = cut >= len(stream) - 4
        assert whole[0] == ((0x32, body) if first_fits else None)
        assert whole[1] == ((0x40, b"\x00\x07") if cut == len(stream) else None)
        assert sock._pos == (len(stream) if cut == len(stream) else len(stream) - 4 if first_fits else 0)


def test_take_packet_refuses_a_length_longer_than_four_bytes():
    sock = _BufferedSocket(_Chunks([]))
    sock._buf, sock._pos = b"\x30\xff\xff\xff\xff\x01" + bytes(10), 0
    assert sock.take_packet() is None and sock._pos == 0  # left to paho, which calls it a protocol error


@pytest.fixture
def anonymous_broker(tmp_path):
    import socket
    import subprocess
    import time

    from tests.support.env import free_port

    port = free_port()
    # No cap on the subscriber's queue: with the default (1,000 queued beyond the in-flight window) a subscriber
    # slowed by a loaded machine has messages dropped by the broker, which is not what this test is about.
    (tmp_path / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                                     "max_queued_messages 0\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "m.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("manual_ack", [False, True])
def test_buffered_client_receives_what_was_published(anonymous_broker, manual_ack):
    # Through the real broker: packets of every length class, split across reads, QoS 0 and 1, each
    # arrives once, whole, in order of its QoS; QoS 1 ones are acknowledged (the broker would redeliver an
    # unacknowledged one to the persistent session below).
    import threading
    import time

    import paho.mqtt.client as mqtt

    from backend.clients.mqtt import BufferedClient, ack_many

    sent = [(f"t/{i % 7}", bytes([i % 251]) * n, i % 2)
            for i, n in enumerate([0, 1, 100, 127, 128, 300, 16_383, 16_384, 70_000, 200_000] + [40] * 3000)]
    got: list[tuple[str, bytes, int, bool, bool]] = []
    mids: list[int] = []
    done = threading.Event()

    def on_message(c, u, m):  # noqa: ANN001
        got.append((m.topic, m.payload, m.qos, m.retain, m.dup))
        if m.qos:
            mids.append(m.mid)
        if manual_ack and len(mids) >= 10:  # as the worker does after each batch (the broker's window is 20)
            ack_many(c, mids)
            mids.clear()
        if len(got) == len(sent):
            done.set()

    def subscriber(clean: bool) -> mqtt.Client:
        c = BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id="recv-test", protocol=mqtt.MQTTv5,
                           manual_ack=manual_ack)
        c.on_message = on_message
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        c.connect("127.0.0.1", anonymous_broker, clean_start=clean, properties=props)
        return c

    sub = subscriber(True)
    sub.subscribe("t/#", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="send-test", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", anonymous_broker)
    pub.loop_start()
    infos = [pub.publish(t, p, qos=q) for t, p, q in sent]
    for info in infos:
        info.wait_for_publish(10)
    assert done.wait(30), f"{len(got)} of {len(sent)}"
    # (the broker holds QoS 1 messages beyond its in-flight window, so QoS 0 ones may overtake them)
    for qos in (0, 1):
        assert [(t, p) for t, p, q, _, _ in got if q == qos] == [(t, p) for t, p, q in sent if q == qos]
    assert not any(dup or retain for *_, retain, dup in got)
    if manual_ack:
        ack_many(sub, mids)
    time.sleep(0.3)
    sub.disconnect()
    sub.loop_stop()
    # Everything was acknowledged: the persistent session has nothing to redeliver.
    got.clear()
    again = subscriber(False)
    again.loop_start()
    time.sleep(1.0)
    again.disconnect()
    again.loop_stop()
    pub.disconnect()
    pub.loop_stop()
    assert got == []
