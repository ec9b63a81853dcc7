"""Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) over its control topic.

Commands are JSON on ``$CONTROL/dynamic-security/v1``; the answers come on ``…/v1/response``, one per
command, with an ``error`` field when it failed (https://mosquitto.org/documentation/dynamic-security/).
The broker applies them at once and saves its JSON config itself: no files to regenerate, no SIGHUP.
Provisioning is rare (a sensor added, retired, its password rotated), so each call is one short
connection of an admin login; callers on the event loop run it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"


class DynSecError(RuntimeError):
    """The broker could not be reached, did not answer, or refused a command."""

    def __init__(self, message: str, responses: list[dict] | None = None) -> None:
        super().__init__(message)
        self.responses = responses or []


@dataclass(frozen=True, slots=True)
class DynSecTarget:
    host: str
    port: int
    username: str
    password: str
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> DynSecTarget:
        """mqtt://admin:secret@host:1883 (mqtts:// for TLS)."""
        u = urlparse(url)
        tls = u.scheme == "mqtts"
        return cls(u.hostname or "127.0.0.1", u.port or (8883 if tls else 1883), unquote(u.username or ""),
                   unquote(u.password or ""), tls)


def run_commands(target: DynSecTarget, commands: list[dict], *, timeout: float = 10.0,
                 tolerate: tuple[str, ...] = ()) -> list[dict]:
    """Send ``commands`` in one control message and return the broker's responses (in order).

    A response whose ``error`` contains one of ``tolerate`` (e.g. "already exists", "not found") counts as
    done; any other error raises DynSecError with every response."""
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"zhijian-dynsec-{uuid.uuid4().hex[:10]}", protocol=mqtt.MQTTv5)
    client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set()
    connected, subscribed, answered = threading.Event(), threading.Event(), threading.Event()
    state: dict[str, object] = {}

    def on_connect(c, userdata, flags, rc, props):  # noqa: ANN001 - paho callback
        state["rc"] = rc
        connected.set()
        if not rc.is_failure:
            c.subscribe(RESPONSE_TOPIC, qos=1)

    def on_subscribe(c, userdata, mid, rcs, props):  # noqa: ANN001
        state["sub"] = rcs
        subscribed.set()

    def on_message(c, userdata, msg):  # noqa: ANN001
        state["responses"] = json.loads(msg.payload).get("responses", [])
        answered.set()

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(target.host, target.port, keepalive=30)
    except OSError as exc:
        raise DynSecError(f"broker unreachable: {exc}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout) or state["rc"].is_failure:  # type: ignore[union-attr]
            raise DynSecError(f"admin login refused: {state.get('rc')}")
        if not subscribed.wait(timeout) or any(r.is_failure for r in state["sub"]):  # type: ignore[union-attr]
            raise DynSecError("the admin login may not read the control responses")
        client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1).wait_for_publish(timeout)
        if not answered.wait(timeout):
            raise DynSecError("no answer on the control topic (is the dynamic-security plugin loaded?)")
    finally:
        client.disconnect()
        client.loop_stop()
    responses: list[dict] = state["responses"]  # type: ignore[assignment]
    failed = [r for r in responses if r.get("error") and not any(t in r["error"] for t in tolerate)]
    if failed:
        raise DynSecError("; ".join(f"{r.get('command')}: {r['error']}" for r in failed), responses)
    return responses
