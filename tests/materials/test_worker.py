"""The real ARQ worker moves counted scans from Redis to PostgreSQL (flush_material_scans at start-up)."""

from __future__ import annotations

import pytest

from backend.materials.tables import MaterialLabel, MaterialScan
from tests.materials.helpers import labels, new_batch, world
from tests.support.api import bearer, mp_login
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_worker_flushes_counted_scans(api, admin, start_worker):
    w = await world(api, admin)
    batch = await new_batch(api, w)
    label = (await labels(api, w, batch["id"]))[0]
    citizen = bearer(await mp_login(api))
    for _ in range(5):
        resp = await api.post("/mp/v1/materials/scan", json={"content": label["content"]}, headers=citizen)
        assert resp.status_code == 200 and resp.json()["outcome"] == "ok"
    row = await MaterialLabel.select(MaterialLabel.scan_count).where(MaterialLabel.id == label["id"]).first()
    assert row["scan_count"] == 0  # counted in Redis until the worker flushes

    worker = start_worker()

    async def flushed() -> bool:
        r = await MaterialLabel.select(MaterialLabel.scan_count).where(MaterialLabel.id == label["id"]).first()
        return r["scan_count"] == 5

    assert await eventually(flushed, timeout=20), worker.log()
    assert await MaterialScan.count().where((MaterialScan.label == label["id"]) & (MaterialScan.outcome == "ok")) == 5
    worker.stop()
