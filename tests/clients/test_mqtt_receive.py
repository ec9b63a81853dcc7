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
