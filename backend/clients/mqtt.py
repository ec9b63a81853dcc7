"""MQTT (paho-mqtt): connection parameters and a readiness probe; the ingest loop lives in iot/."""

from __future__ import annotations

import asyncio
import struct
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from backend.settings import Settings


@dataclass(frozen=True)
class MqttParams:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def mqtt_params(settings: Settings) -> MqttParams:
    """Parse ZHIJIAN_MQTT_URL (mqtt://user:pass@host:1883 or mqtts://...)."""
    url = urlparse(settings.MQTT_URL)
    tls = url.scheme == "mqtts"
    return MqttParams(
        host=url.hostname or "127.0.0.1",
        port=url.port or (8883 if tls else 1883),
        username=url.username,
        password=url.password,
        tls=tls,
    )


class _BufferedSocket:
    """The broker's socket read 64 KiB at a time: paho asks for every packet in three small reads
    (type byte, length bytes, body) after a select() each, which dominates the cost of small messages.
    ``pending()`` (which paho already honours for TLS sockets) tells it that bytes wait in the buffer."""

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            data = self._sock.recv(max(bufsize, 65536))
            if len(data) <= bufsize:
                return data
            self._buf, self._pos = data, 0
        start = self._pos
        self._pos = min(start + bufsize, len(self._buf))
        return self._buf[start:self._pos]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    """paho's client reading its socket in large chunks and draining every whole packet per wake-up
    (for subscribers that receive thousands of small messages a second: the ingest worker)."""

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        return sock if self._transport == "websockets" else _BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(10_000):  # bounded: writes (acks, pings) get their turn between drains
            sock = self._sock
            if rc != mqtt.MQTT_ERR_SUCCESS or sock is None or not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc


def make_client(settings: Settings, client_id: str, *, clean_start: bool = True, manual_ack: bool = False,
                buffered: bool = False) -> mqtt.Client:
    """A paho client configured from settings (MQTT v5, not yet connected).

    ``manual_ack``: QoS 1 messages are acknowledged only when the caller calls ``client.ack(mid, qos)``
    (the ingest worker does so after its database commit). ``buffered``: a ``BufferedClient``.
    """
    params = mqtt_params(settings)
    client = (BufferedClient if buffered else mqtt.Client)(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if params.username:
        client.username_pw_set(params.username, params.password)
    if params.tls:
        client.tls_set()
    return client


_PUBACK = struct.Struct("!BBH")


def ack_many(client: mqtt.Client, mids: list[int]) -> None:
    """Acknowledge many QoS 1 messages at once: one queued write of their PUBACKs instead of one each.

    paho's ``ack()`` queues every PUBACK as its own packet and wakes its network thread for each,
    which costs more than the ingest of a small message; the PUBACKs laid end to end are the same
    bytes on the wire. Uses paho's packet queue (``_packet_queue``, paho 2.x); where it is missing
    the acks go one by one.
    """
    if not mids:
        return
    queue = getattr(client, "_packet_queue", None)
    if queue is None or not getattr(client, "_manual_ack", False):
        for mid in mids:
            client.ack(mid, 1)
        return
    packet = b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])
    rc = queue(mqtt.PUBACK, packet, mids[-1], 1)
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise ConnectionError(f"PUBACKs not queued: {rc}")


def _probe(settings: Settings, timeout: float) -> None:
    params = mqtt_params(settings)
    done = threading.Event()
    result: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties):  # noqa: ANN001
        result["rc"] = reason_code
        done.set()

    client = make_client(settings, f"{settings.MQTT_CLIENT_PREFIX}-probe-{uuid.uuid4().hex[:8]}")
    client.on_connect = on_connect
    client.connect(params.host, params.port, keepalive=10)
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise TimeoutError("no CONNACK")
        rc = result["rc"]
        if getattr(rc, "is_failure", False):
            raise RuntimeError(f"refused: {rc}")
    finally:
        client.disconnect()
        client.loop_stop()


async def ping(settings: Settings, timeout: float = 2.0) -> None:
    """Connect, wait for CONNACK, disconnect; raise on failure."""
    await asyncio.wait_for(asyncio.to_thread(_probe, settings, timeout), timeout + 1)
