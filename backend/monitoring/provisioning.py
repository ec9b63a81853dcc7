"""Device credentials provisioned live in Mosquitto (设备凭据下发) through its dynamic-security plugin.

One broker client per sensor (username = the sensor id) holding one role that may only *publish* to
``zhijian/v1/{project_id}/{sensor_id}/telemetry``; the ingest workers' role may only *subscribe to and
receive* ``zhijian/v1/+/+/telemetry``. The plugin's defaults refuse the rest (publishClientSend and
subscribe deny; docs: mosquitto.org/documentation/dynamic-security/). Changes apply at once — a retired
sensor's client is deleted, which also disconnects it — and the broker saves them itself.

Off when ``MQTT_DYNSEC_URL`` (the plugin admin's login) is empty: then credentials come from the files
``python -m iot.credentials --out DIR`` writes (a broker without the plugin, e.g. the tests' 1883).
"""

from __future__ import annotations

import asyncio
import secrets
from uuid import UUID

from backend.clients.dynsec import DynSecError, DynSecTarget, run_commands
from backend.errors import UpstreamError
from backend.settings import Settings

TOPIC = "zhijian/v1/{project_id}/{sensor_id}/telemetry"
WORKER_TOPIC = "zhijian/v1/+/+/telemetry"
WORKER_ROLE = "zhijian-iot-worker"
EXISTS = ("already exists",)
GONE = ("not found",)


def device_role(sensor_id: UUID | str) -> str:
    return f"zhijian-device-{sensor_id}"


def device_commands(sensor_id: UUID | str, project_id: UUID | str, password: str) -> list[dict]:
    """Create (or re-key) the sensor's client and its one-topic role; safe to repeat."""
    role, user = device_role(sensor_id), str(sensor_id)
    topic = TOPIC.format(project_id=project_id, sensor_id=sensor_id)
    return [
        {"command": "createRole", "rolename": role,
         "acls": [{"acltype": "publishClientSend", "topic": topic, "priority": 0, "allow": True}]},
        {"command": "createClient", "username": user, "password": password, "roles": [{"rolename": role}]},
        # already there (a rotation): a new password; the role came with createClient (Mosquitto 2.0.11
        # answers a repeated addClientRole with "Internal error")
        {"command": "setClientPassword", "username": user, "password": password},
        {"command": "enableClient", "username": user},
    ]


def revoke_commands(sensor_id: UUID | str) -> list[dict]:
    return [{"command": "deleteClient", "username": str(sensor_id)},
            {"command": "deleteRole", "rolename": device_role(sensor_id)}]


def worker_commands(username: str, password: str) -> list[dict]:
    """The ingest workers' login: read telemetry (its shared subscription), publish nothing."""
    return [
        {"command": "createRole", "rolename": WORKER_ROLE, "acls": [
            {"acltype": "subscribePattern", "topic": WORKER_TOPIC, "priority": 0, "allow": True},
            # Mosquitto 2.0 checks a shared subscription with its "$share/<group>/" prefix on
            {"acltype": "subscribePattern", "topic": "$share/+/" + WORKER_TOPIC, "priority": 0, "allow": True},
            {"acltype": "publishClientReceive", "topic": WORKER_TOPIC, "priority": 0, "allow": True}]},
        {"command": "createClient", "username": username, "password": password, "roles": [{"rolename": WORKER_ROLE}]},
        {"command": "setClientPassword", "username": username, "password": password},
    ]


def enabled(settings: Settings) -> bool:
    return bool(settings.MQTT_DYNSEC_URL)


async def _run(settings: Settings, commands: list[dict], tolerate: tuple[str, ...]) -> None:
    try:
        await asyncio.to_thread(run_commands, DynSecTarget.from_url(settings.MQTT_DYNSEC_URL), commands,
                                tolerate=tolerate)
    except DynSecError as exc:
        raise UpstreamError("BROKER_UNAVAILABLE", detail=str(exc)[:300]) from None


async def provision_device(settings: Settings, sensor_id: UUID, project_id: UUID) -> str | None:
    """Give the sensor a fresh password in the broker (created if new); returns it (None: provisioning off)."""
    if not enabled(settings):
        return None
    password = secrets.token_urlsafe(18)
    await _run(settings, device_commands(sensor_id, project_id, password), EXISTS)
    return password


async def revoke_device(settings: Settings, sensor_id: UUID) -> None:
    """Delete the sensor's client and role: refused from its next packet on (the broker disconnects it)."""
    if enabled(settings):
        await _run(settings, revoke_commands(sensor_id), GONE)
