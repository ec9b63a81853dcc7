"""MQTT (paho-mqtt): connection parameters and a readiness probe; the ingest loop lives in iot/."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
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


def make_client(settings: Settings, client_id: str, *, clean_start: bool = True, manual_ack: bool = False) -> mqtt.Client:
    """A paho client configured from settings (MQTT v5, not yet connected).

    ``manual_ack``: QoS 1 messages are acknowledged only when the caller calls ``client.ack(mid, qos)``
    (the ingest worker does so after its database commit).
    """
    params = mqtt_params(settings)
    client = mqtt.Client(
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
