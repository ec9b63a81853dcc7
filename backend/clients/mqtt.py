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
from paho.mqtt import _packet
from paho.mqtt.exception import MalformedPacket

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

    __slots__ = ("_buf", "_pos", "_sock")

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

    def take_packet(self) -> tuple[int, bytes] | None:
        """The next whole MQTT packet (first byte, body) if the buffer holds all of it, else None (the
        caller then reads byte by byte as paho does, which also refills the buffer)."""
        buf, pos = self._buf, self._pos
        end = len(buf)
        length, mult, i = 0, 1, pos + 1
        while True:  # the remaining length: 1–4 bytes, 7 bits each, least significant first
            if i >= end or i - pos > 4:
                return None
            byte = buf[i]
            length += (byte & 127) * mult
            mult *= 128
            i += 1
            if not byte & 128:
                break
        if i + length > end:
            return None
        self._pos = i + length
        return buf[pos], buf[i:i + length]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _fast_publish_decoding() -> None:
    """Decode MQTT 5 PUBLISH packets that carry no properties (every sensor's) without paho's Properties
    parser, which costs more than the rest of receiving a small message (it rebuilds its name tables and
    probes every property name for each packet). Packets with properties take paho's own path. Installed
    once, for the process, by the first BufferedClient; the result is the same PublishPacket paho builds."""
    from paho.mqtt.enums import MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    original = _packet.decode_publish
    if getattr(original, "zhijian_fast", False):
        return
    empty_state = dict(Properties(PacketTypes.PUBLISH).__dict__)

    def decode_publish(header: int, packet: bytes | bytearray, protocol: MQTTProtocolVersion) -> Any:
        if protocol == MQTTProtocolVersion.MQTTv5 and len(packet) >= 3:
            qos = (header & 0x06) >> 1
            end = 2 + ((packet[0] << 8) | packet[1])  # after the topic
            props_at = end + 2 if qos > 0 else end
            if end > 2 and len(packet) > props_at and packet[props_at] == 0:
                properties = object.__new__(Properties)
                properties.__dict__.update(empty_state)
                return _packet.PublishPacket(
                    dup=bool(header & 0x08), qos=qos, retain=bool(header & 0x01), topic=bytes(packet[2:end]),
                    mid=((packet[end] << 8) | packet[end + 1]) if qos > 0 else 0, properties=properties,
                    payload=bytes(packet[props_at + 1:]))
        return original(header, packet, protocol)

    decode_publish.zhijian_fast = True  # type: ignore[attr-defined]
    decode_publish.zhijian_original = original  # type: ignore[attr-defined]
    _packet.decode_publish = decode_publish


class BufferedClient(mqtt.Client):
    """paho's client reading its socket in large chunks and draining up to ``drain_max`` whole packets per
    wake-up, with the fast PUBLISH decoding above (for subscribers that receive thousands of small
    messages a second: the ingest worker)."""

    drain_max = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _fast_publish_decoding()
        super().__init__(*args, **kwargs)

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        return sock if self._transport == "websockets" else _BufferedSocket(sock)

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        """A packet already whole in the buffer is taken in one piece; otherwise paho's own reader."""
        sock = self._sock
        if self._in_packet["command"] == 0 and type(sock) is _BufferedSocket:
            whole = sock.take_packet()
            if whole is not None:
                command, body = whole
                self._in_packet = {"command": command, "have_remaining": 1, "remaining_count": [],
                                   "remaining_mult": 1, "remaining_length": len(body), "packet": body,
                                   "to_process": 0, "pos": 0}
                try:
                    rc = self._packet_handle()
                except MalformedPacket as exc:
                    self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
                    rc = mqtt.MQTT_ERR_PROTOCOL
                self._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                                   "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}
                with self._msgtime_mutex:
                    self._last_bytes_received = mqtt.time_func()
                return rc
        return super()._packet_read()

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """QoS 0/1 PUBLISH straight to ``on_message``, as paho does, less what a subscriber without
        topic-filtered callbacks or logging never uses: the matcher walk, the debug line, the locks
        around the callback lookup, and the MQTTMessageInfo (with a threading.Condition) that paho
        builds for every received message though it only tracks outgoing ones (``message.info`` is
        not set). Anything else (QoS 2, filtered callbacks, a logger) takes paho's own path."""
        packet = self._in_packet
        qos = (packet["command"] & 0x06) >> 1
        if (qos == 2 or self._on_message_filtered._root._children or self._on_log is not None
                or self._logger is not None):
            return super()._handle_publish()
        result = _packet.decode_publish(packet["command"], packet["packet"], self._protocol)
        message = object.__new__(mqtt.MQTTMessage)
        message.timestamp, message.state, message.dup, message.mid = mqtt.time_func(), mqtt.mqtt_ms_invalid, result.dup, result.mid
        message._topic, message.payload, message.qos, message.retain = (
            result.topic, result.payload, result.qos, result.retain)
        message.properties = result.properties
        on_message = self._on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, message)
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        if qos == 1 and not self._manual_ack:
            return self._send_puback(result.mid)
        return mqtt.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(self.drain_max):  # bounded: the rest waits for the next call (pending() says so)
            sock = self._sock
            if rc != mqtt.MQTT_ERR_SUCCESS or sock is None or not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc


class AsyncioMqtt:
    """Runs a paho client on an asyncio loop through paho's external-loop callbacks instead of its network
    thread: the ingest and the MQTT traffic share one thread, so neither waits for the GIL behind the other.
    ``run()`` keeps the session alive and reconnects with backoff (paho's thread would have done both).
    """

    def __init__(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop, *, min_delay: float = 1.0,
                 max_delay: float = 10.0) -> None:
        self.client, self.loop = client, loop
        self.min_delay, self.max_delay = min_delay, max_delay
        self.stopping = False
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._done_writing

    def _opened(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.add_reader(sock, self._readable)

    def _readable(self) -> None:
        rc = self.client.loop_read()
        sock = self.client.socket()
        if rc == mqtt.MQTT_ERR_SUCCESS and sock is not None and getattr(sock, "pending", lambda: 0)():
            self.loop.call_soon(self._readable)  # more whole packets buffered: after the other tasks' turn

    def _closed(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def _want_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.add_writer(sock, self.client.loop_write)

    def _done_writing(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.remove_writer(sock)

    async def run(self, on_error: Any = None) -> None:
        """Connect (``connect_async`` must have been called), then keepalive once a second and reconnect."""
        delay = self.min_delay
        while not self.stopping:
            if self.client.socket() is None:
                try:
                    self.client.reconnect()  # a blocking TCP connect, bounded by client.connect_timeout
                    delay = self.min_delay
                except OSError as exc:
                    if on_error is not None:
                        on_error(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
                    continue
            else:
                self.client.loop_misc()
            await asyncio.sleep(1.0)

    def close(self) -> None:
        """Send DISCONNECT and close (a persistent session stays with the broker)."""
        self.stopping = True
        if self.client.socket() is not None:
            self.client.disconnect()
            self.client.loop_write()


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

    def on_connect(client, userdata, flags, reason_code, properties):
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
