"""Monitoring test helpers: the iot worker as a real process, a QoS 1 publisher, and a sensor set up via the API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from backend.notifications.tables import Notification
from tests.support.api import staff_token

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PERMIT = "330302202603150101"  # demo: GC 瓯江建设 (lead_wang), supervision 正衡监理 (sup_li), 鹿城区
# Readings start two weeks back so they are in the past (a future stamp is refused), hourly; sensors report
# weekly with three missed allowed (21 days), so none goes silent.
T0 = (datetime.now(UTC) - timedelta(days=14)).replace(minute=0, second=0, microsecond=0)


class IotWorkerProcess:
    """`python -m iot.worker` with its own stable MQTT client id (a persistent session) and log."""

    def __init__(self, client_id: str, extra_env: dict[str, str] | None = None) -> None:
        self.client_id = client_id
        self.env = {**os.environ, "ZHIJIAN_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
                    "ZHIJIAN_MQTT_WORKER_CLIENT_ID": client_id, "ZHIJIAN_MONITORING_BATCH_WAIT_S": "0.02",
                    **(extra_env or {})}
        self.log_path = ROOT / f".pytest_iot_{os.getpid()}_{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "a")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "iot.worker"], cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "mqtt_connected" in self.log_path.read_text()[offset:]:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"iot worker exited:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"iot worker did not connect:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, as on a crash."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None


class Publisher:
    """A device: QoS 1 publishes, each waited for (PUBACK)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, username: str | None = None,
                 password: str | None = None) -> None:
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"dev-{uuid.uuid4().hex[:10]}", protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def send(self, topic: str, payload: Any, qos: int = 1) -> mqtt.MQTTMessageInfo:
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        info = self.client.publish(topic, body, qos=qos)
        info.wait_for_publish(10)
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def rule_state(sensor_id: str) -> dict[str, Any]:
    """The sensor's stored rule state (the scalars a restarted worker resumes from)."""
    from backend.monitoring.tables import RuleStateRow

    row = await RuleStateRow.select(RuleStateRow.state).where(RuleStateRow.sensor == sensor_id).output(
        load_json=True).first()
    return row["state"]


def end_session(client_id: str, port: int = 1883) -> None:
    """End a worker's persistent session (and its place in the shared subscription) on the broker."""
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    try:
        client.connect("127.0.0.1", port, clean_start=True)  # a clean start drops the old session …
        client.loop_start()
        time.sleep(0.3)
        client.disconnect()  # … and this one ends with the connection (no session expiry set)
        client.loop_stop()
    except OSError:
        pass


def reading(i: int, value: float, step: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    return {"ts": (T0 + i * step).isoformat(), "value": value}


async def project_id(api, headers) -> str:  # noqa: ANN001
    resp = await api.get("/api/v1/projects", params={"q": PROJECT_PERMIT}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"][0]["id"]


async def tokens(api) -> dict[str, dict[str, str]]:  # noqa: ANN001
    return {name: await staff_token(api, name) for name in ("lead_wang", "sup_li", "lc_inspector", "lw_inspector", "admin")}


async def make_sensor(api, toks, *, metric: str = "wall_top_horizontal", alarm_values: dict | None = None,  # noqa: ANN001
                      interval_s: int = 7 * 86400, missed: int = 3, depth: float = 12.0) -> dict[str, Any]:
    """A foundation pit with an approved plan, one point and one sensor; returns ids and the topic."""
    lead = toks["lead_wang"]
    pid = await project_id(api, lead)
    work = await api.post("/api/v1/monitoring/works", headers=lead, json={
        "project_id": pid, "name": f"基坑-{uuid.uuid4().hex[:6]}", "kind": "foundation_pit",
        "parameters": {"excavation_depth_m": depth}})
    assert work.status_code == 201, work.text
    wid = work.json()["id"]
    values = alarm_values if alarm_values is not None else {metric: {"cumulative_abs": 10, "rate_per_day": 48,
                                                                      "warning_ratio": 0.7, "danger_ratio": 1.5}}
    resp = await api.post(f"/api/v1/monitoring/works/{wid}/plan", headers=lead,
                          json={"plan_no": "FA-2026-01", "alarm_values": values})
    assert resp.status_code == 200, resp.text
    resp = await api.post(f"/api/v1/monitoring/works/{wid}/plan/approve", headers=toks["sup_li"],
                          json={"expert_review": "专家论证 2026-05-30 通过"})
    assert resp.status_code == 200, resp.text
    point = await api.post(f"/api/v1/monitoring/works/{wid}/points", headers=lead, json={"code": "ZQS-01"})
    assert point.status_code == 201, point.text
    sensor = await api.post(f"/api/v1/monitoring/points/{point.json()['id']}/sensors", headers=lead,
                            json={"metric": metric, "interval_s": interval_s, "silent_after_missed": missed})
    assert sensor.status_code == 201, sensor.text
    return {"project_id": pid, "work_id": wid, "point_id": point.json()["id"], **sensor.json()}


async def pushes(alarm_id: str) -> list[dict[str, Any]]:
    """Notifications recorded for an alarm (one per recipient per level change)."""
    return await Notification.select(Notification.recipient, Notification.title, Notification.dedup_key,
                                     Notification.created_at).where(
        (Notification.subject_type == "monitoring_alarm") & (Notification.subject_id == alarm_id)
    ).order_by(Notification.created_at)
