"""Liveness and readiness: each dependency checked with a short timeout and reported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from backend import db
from backend.clients import mqtt
from backend.clients.s3 import S3Client
from backend.settings import Settings

_TIMEOUT_S = 3.0


async def _check(probe: Callable[[], Awaitable[object]]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), _TIMEOUT_S)
        status, error = "ok", None
    except Exception as exc:  # noqa: BLE001 - any failure is "not ready", reported with its text
        status, error = "error", f"{type(exc).__name__}: {exc}"[:300]
    result: dict[str, object] = {"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if error:
        result["error"] = error
    return result


async def readiness(settings: Settings, redis: Redis, s3: S3Client) -> tuple[bool, dict[str, dict[str, object]]]:
    """PostgreSQL, Redis, S3 and MQTT, checked concurrently."""
    names = ("postgres", "redis", "s3", "mqtt")
    results = await asyncio.gather(
        _check(db.ping),
        _check(redis.ping),
        _check(s3.ping),
        _check(lambda: mqtt.ping(settings)),
    )
    checks = dict(zip(names, results, strict=True))
    return all(c["status"] == "ok" for c in checks.values()), checks
