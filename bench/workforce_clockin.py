"""Shift start: 5,000 workers clock in at once through the real API (uvicorn) on loopback.

    .venv/bin/python bench/workforce_clockin.py [--workers-n 5000] [--concurrency 50] [--api-workers 1]

Seeds the demo data, gives the demo project a geofence, and puts N workers on its roster, each with
a linked WeChat user (role worker) and a verified selfie row (the media rows are inserted directly as
verified; the upload path is benched elsewhere). Then every worker POSTs /mp/v1/workforce/clocks
once (WGS-84 point inside the fence, own selfie, a request_id) with `--concurrency` in flight.
Prints clock-ins/s and p50/p95/p99 latency (target ≥ 100/s, p99 < 100 ms) and checks every clock
was stored. The machine is shared: note the load beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import (
    BIN,
    ROOT,
    bench_env,
    create_database,
    drop_database,
    free_port,
    percentile,
    start,
    wait_http,
)

D = 0.003  # half side of the bench geofence, degrees


async def prepare(n: int) -> tuple[str, list[tuple[str, str]], tuple[float, float]]:
    """The project id, (token, selfie id) per worker, and the site's WGS-84 point."""
    from backend import db
    from backend.auth.principal import Principal, Role
    from backend.auth.tokens import issue_access_token
    from backend.db import utcnow
    from backend.geo.coords import gcj02_to_wgs84
    from backend.projects.tables import Project
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    project = await Project.select().where(Project.permit_no == "330302202603150101").first()
    lng, lat = project["lng"], project["lat"]
    fence = {"type": "Polygon", "coordinates": [[[lng - D, lat - D], [lng + D, lat - D], [lng + D, lat + D],
                                                  [lng - D, lat + D], [lng - D, lat - D]]]}
    await Project.raw("UPDATE projects SET geofence = {}::jsonb WHERE id = {}", json.dumps(fence), project["id"])
    labour = (await Project.raw("SELECT id FROM enterprises WHERE uscc = '91330304MA2EF5G6HY'"))[0]["id"]
    rows = await Project.raw(
        "WITH u AS (INSERT INTO users (id, role, display_name, openid, phone, is_active, created_at)"
        "  SELECT gen_random_uuid(), 'worker', 'bench', 'o_wbench_' || g, '', true, now()"
        "  FROM generate_series(1, {}) g RETURNING id),"
        " w AS (INSERT INTO workers (id, name, id_number_enc, id_number_hash, sex, birth_date, employer, contract_signed, \"user\", created_at)"
        "  SELECT gen_random_uuid(), 'bench', 'x', md5(u.id::text), 'male', DATE '1990-01-01', {}, true, u.id, now() FROM u"
        "  RETURNING id, \"user\"),"
        " r AS (INSERT INTO project_workers (id, project, worker, enterprise, trade, daily_rate_fen, entered_at, created_at)"
        "  SELECT gen_random_uuid(), {}, w.id, {}, '', 0, now(), now() FROM w RETURNING worker),"
        " m AS (INSERT INTO media (id, owner, purpose, status, key, created_at, verified_at)"
        "  SELECT gen_random_uuid(), w.\"user\", 'selfie', 'verified', 'bench/' || w.id, now(), now() FROM w"
        "  RETURNING id, owner)"
        " SELECT m.owner AS user_id, m.id AS media_id FROM m",
        n, labour, project["id"], labour)
    now = utcnow()
    out = [(issue_access_token(settings, Principal(kind="user", id=r["user_id"], role=Role.WORKER), now)[0], str(r["media_id"]))
           for r in rows]
    await db.close_pool()
    return str(project["id"]), out, gcj02_to_wgs84(lng, lat)


async def fire(port: int, project_id: str, workers: list[tuple[str, str]], site: tuple[float, float],
               concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    import httpx

    url = f"http://127.0.0.1:{port}/mp/v1/workforce/clocks"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for w in workers:
        queue.put_nowait(w)

    async def one(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            token, selfie = queue.get_nowait()
            body = {"kind": "in", "project_id": project_id, "lng": site[0], "lat": site[1], "coord_type": "wgs84",
                    "accuracy_m": 15, "device_id": "bench", "selfie_media_id": selfie,
                    "at": datetime.now(UTC).isoformat(), "request_id": uuid.uuid4().hex}
            t = time.perf_counter()
            resp = await client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
            latencies.append((time.perf_counter() - t) * 1000)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client) for _ in range(concurrency)))
        took = time.perf_counter() - started
    return took, latencies, statuses


async def count_clocks() -> int:
    from backend import db
    from backend.settings import get_settings
    from backend.workforce.tables import Clock

    await db.open_pool(get_settings())
    n = await Clock.count()
    await db.close_pool()
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers-n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--api-workers", type=int, default=1)
    args = parser.parse_args()
    env = bench_env(redis_db=7)
    os.environ.update(env)
    api_port = free_port()
    procs: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        create_database(env)
        subprocess.run([sys.executable, "-m", "backend.cli", "seed-demo"], cwd=ROOT, env={**os.environ}, check=True,
                       capture_output=True)
        project_id, workers, site = asyncio.run(prepare(args.workers_n))
        uv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
        procs.append(start([*uv, "--factory", "backend.app:create_app", "--port", str(api_port), "--workers",
                            str(args.api_workers)], env, "/tmp/bench_clockin_api.log"))
        wait_http(f"http://127.0.0.1:{api_port}/healthz")
        load = os.getloadavg()[0]
        took, lat, statuses = asyncio.run(fire(api_port, project_id, workers, site, args.concurrency))
        print(f"machine     : {os.cpu_count()} CPUs, load average {load:.2f} before the run; uvicorn --workers "
              f"{args.api_workers}; one httpx load process, {args.concurrency} in flight")
        print(f"shift start : {len(lat)} clock-ins in {took:.2f} s = {len(lat) / took:.0f} clock-ins/s  statuses {statuses}")
        print(f"latency     : p50 {percentile(lat, 50):.1f} ms  p95 {percentile(lat, 95):.1f} ms  "
              f"p99 {percentile(lat, 99):.1f} ms  (target ≥ 100/s, p99 < 100 ms)")
        stored = asyncio.run(count_clocks())
        print(f"stored      : {stored} rows in worker_clocks ({'all' if stored == statuses.get(201, 0) else 'MISMATCH'})")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(env)


if __name__ == "__main__":
    main()
