"""The three workers connect to the real services, report, and stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import paho.mqtt.client as mqtt
import pytest
import redis

from tests.support import env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _start(cmd: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "ZHIJIAN_LOG_LEVEL": "DEBUG", **(extra_env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"did not stop on SIGTERM:\n{out}")
    return proc.returncode, out


def test_arq_worker_heartbeat_and_sigterm(database, s3_server, redis_db, fake_wechat):
    redis_db.delete("zhijian:heartbeat:arq")
    proc = _start([str(BIN / "arq"), "workers.settings.WorkerSettings"])
    try:
        assert _wait_for(lambda: redis_db.get("zhijian:heartbeat:arq") is not None), "no heartbeat"
    finally:
        code, out = _stop(proc)
    assert code == 0, out
    assert "arq_worker_started" in out and "arq_worker_stopped" in out


def test_arq_worker_runs_a_domain_job(database, s3_server, redis_db, fake_wechat):
    import asyncio

    from arq.connections import RedisSettings, create_pool

    async def enqueue_and_wait() -> dict:
        pool = await create_pool(RedisSettings.from_dsn(env.REDIS_URL))
        try:
            job = await pool.enqueue_job("purge_expired_tokens")
            return await job.result(timeout=30)
        finally:
            await pool.aclose()

    proc = _start([str(BIN / "arq"), "workers.settings.WorkerSettings"])
    try:
        result = asyncio.run(enqueue_and_wait())
        assert set(result) == {"refresh_tokens", "bind_codes"}
    finally:
        _stop(proc)


def test_iot_worker_subscribes_and_stops(database):
    # A session that ends with the connection: a lingering one would keep taking its share of this
    # run's telemetry (tests/monitoring use the same share group).
    proc = _start([sys.executable, "-m", "iot.worker"], {"ZHIJIAN_MQTT_SESSION_EXPIRY_S": "0",
                                                         "ZHIJIAN_MQTT_WORKER_CLIENT_ID": f"zhijian-test-system-iot-{uuid.uuid4().hex[:8]}"})
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "mqtt_connected" in line:
                break
        assert any("mqtt_connected" in line for line in lines), "".join(lines)
        publisher = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        publisher.connect("127.0.0.1", 1883)
        publisher.loop_start()
        publisher.publish("zhijian/v1/p-test/s-test/telemetry", b'{"ts":"2026-11-24T08:00:00+08:00","value":1.0}', qos=1).wait_for_publish(5)
        publisher.loop_stop()
        publisher.disconnect()

        def dead_lettered() -> bool:
            async def count() -> int:
                conn = await asyncpg.connect(env.DATABASE_URL)
                try:
                    return await conn.fetchval("SELECT count(*) FROM monitoring_dead_letters WHERE topic = $1",
                                               "zhijian/v1/p-test/s-test/telemetry")
                finally:
                    await conn.close()

            return asyncio.run(count()) > 0

        assert _wait_for(dead_lettered, timeout=30)
    finally:
        code, out = _stop(proc)
    out = "".join(lines) + out
    assert code == 0, out
    # The topic names no sensor (not UUIDs): received, dead-lettered, and the worker stops cleanly.
    assert '"received": 1' in out and '"dead": 1' in out and "iot_worker_stopped" in out


def test_vision_worker_heartbeat_and_sigterm(database, s3_server, redis_db):
    redis_db.delete("zhijian:heartbeat:vision")
    proc = _start([sys.executable, "-m", "vision.worker"])
    try:
        assert _wait_for(lambda: redis_db.get("zhijian:heartbeat:vision") is not None), "no heartbeat"
    finally:
        code, out = _stop(proc)
    assert code == 0, out
    assert "vision_worker_stopped" in out


def test_redis_db_is_this_runs_own():
    assert redis.Redis.from_url(env.REDIS_URL).connection_pool.connection_kwargs["db"] == env.REDIS_DB != 0
