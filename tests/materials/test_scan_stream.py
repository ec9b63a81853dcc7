"""Scan counts are never lost: a flusher that dies after reading (before its commit) or after its commit
(before acknowledging) loses or doubles nothing (Redis stream consumer group + unique stream ids)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from backend.materials import trace
from backend.materials.tables import MaterialLabel, MaterialScan
from tests.materials.helpers import labels, new_batch, world
from tests.support.api import bearer, mp_login

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _count(label_id: str) -> tuple[int, int]:
    row = await MaterialLabel.select(MaterialLabel.scan_count).where(MaterialLabel.id == label_id).first()
    return row["scan_count"], await MaterialScan.count().where(MaterialScan.label == label_id)


async def _drain(redis) -> None:
    """Count what other tests left in the stream, so this test's numbers are its own."""
    while await trace.flush_scans(redis, claim_idle_ms=0):
        pass


async def test_scans_survive_a_flusher_that_dies(api, admin, app):
    redis = app.state.redis
    w = await world(api, admin)
    batch = await new_batch(api, w)
    label = (await labels(api, w, batch["id"]))[0]
    citizen = bearer(await mp_login(api))
    await _drain(redis)

    async def scan(n: int) -> None:
        for _ in range(n):
            resp = await api.post("/mp/v1/materials/scan", json={"content": label["content"]}, headers=citizen)
            assert resp.status_code == 200 and resp.json()["outcome"] == "ok"

    # 1. A flusher reads 3 scans and dies before writing them: they stay pending in the group.
    await scan(3)
    taken = await trace.read_scans(redis, consumer=f"dead-{uuid.uuid4().hex[:6]}")
    assert len([e for _, e in taken if e["label"] == label["id"]]) == 3
    assert await trace.flush_scans(redis) == 0  # not idle long enough to be another's yet: nothing new to read
    assert await _count(label["id"]) == (0, 0)
    await trace.flush_scans(redis, claim_idle_ms=0)  # claimed from the dead consumer
    assert await _count(label["id"]) == (3, 3)

    # 2. A flusher writes 2 scans, commits, and dies before XACK: claimed again, counted once.
    await scan(2)
    taken = await trace.read_scans(redis, consumer=f"dead-{uuid.uuid4().hex[:6]}")
    assert await trace.store_scans(taken) == 2
    assert await _count(label["id"]) == (5, 5)
    await trace.flush_scans(redis, claim_idle_ms=0)
    assert await _count(label["id"]) == (5, 5)
    assert await redis.xlen(trace.SCAN_STREAM) == 0  # acknowledged and deleted

    # 3. Entries left in the old list (before the stream) are moved over and counted, not dropped.
    old = json.dumps({"label": label["id"], "outcome": "ok", "user": "", "lng": None, "lat": None, "district": None,
                      "at": datetime.now(UTC).isoformat()})
    await redis.rpush(trace.LEGACY_SCAN_LOG_KEY, old)
    await trace.flush_scans(redis)
    assert await _count(label["id"]) == (6, 6) and await redis.llen(trace.LEGACY_SCAN_LOG_KEY) == 0
