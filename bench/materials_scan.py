"""Scan-to-trace throughput and latency through the real API (uvicorn) on loopback.

    .venv/bin/python bench/materials_scan.py [--seconds 10] [--concurrency 32] [--rate R] [--workers 1]
                                             [--clients 1]

Prepares 200 batches with a full chain (transport leg, entry inspection, sampling, a judged report,
a use) and 5 labels each, and 500 signed-in citizens; then every request is POST /mp/v1/materials/scan
with one of the 1,000 label strings and a location on site — the mini-program's real call, through
auth, the label check, the scan counter and the cached trace view. Prints scans/s (closed loop) beside
a bare Litestar endpoint served and loaded the same way (goal ≥ 70 %), p50/p99 at a fixed offered rate
of half the path's own maximum (goal p99 < 50 ms), then flushes the counted scans to PostgreSQL and
checks that none was lost. `--clients N` runs N load-generator processes
(a lean raw-socket client, bench/materials_rawload.py: httpx would cost as much CPU as the API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import (
    BIN,
    ROOT,
    bench_env,
    bound,
    create_database,
    drop_database,
    emit,
    free_port,
    relation,
    start,
    wait_http,
)
from bench.materials_rawload import build, closed_loop, fixed_rate

N_BATCHES, N_BUNDLES, N_CITIZENS = 200, 4, 500
SITE = (120.6555, 28.0185)  # WGS-84, 鹿城区 — replaced by the demo project's own point below


async def prepare() -> tuple[list[str], list[str], tuple[float, float]]:
    """Batches with their chain and labels, citizens' tokens, and the site's WGS-84 point."""
    from redis.asyncio import Redis

    from backend import db
    from backend.auth.principal import Principal, Role
    from backend.auth.tokens import issue_access_token
    from backend.db import utcnow
    from backend.enterprises.tables import Enterprise
    from backend.geo.coords import gcj02_to_wgs84
    from backend.materials import reports, service
    from backend.materials.rules import Material
    from backend.materials.schemas import (
        BatchCreate,
        EntryInspectionIn,
        RebarSpecimen,
        ReportIn,
        SamplingIn,
        UseIn,
    )
    from backend.projects.tables import Project
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    redis = Redis.from_url(settings.REDIS_URL)
    project = await Project.select().where(Project.permit_no == "330302202603150101").first()
    mfr = await Enterprise.select().where(Enterprise.uscc == "91330300MA2LM1N2PN").first()
    lab = await Enterprise.select().where(Enterprise.uscc == "91330302MA2NP3Q4RA").first()
    admin = Principal(kind="user", id=(await Project.raw("SELECT id FROM users WHERE username='admin'"))[0]["id"],
                      role=Role.REGULATOR_ADMIN)
    lab_user = Principal(kind="user", id=admin.id, role=Role.SUPERVISOR, enterprise_id=lab["id"])
    contents = []
    for i in range(N_BATCHES):
        b = await service.create_batch(settings, admin, BatchCreate(
            material=Material.REBAR, grade="HRB400E", spec="Ø25", manufacturer_id=mfr["id"],
            production_batch_no=f"BENCH{i:05d}", production_date=date(2026, 10, 1), quantity=30, unit="t",
            project_id=project["id"]))
        await service.record_entry_inspection(redis, admin, b.id, EntryInspectionIn(accepted=True))
        await service.record_sampling(redis, admin, b.id, SamplingIn(sample_no=f"S{i}", sampled_by="bench",
                                                                               lab_id=lab["id"]))
        spec = RebarSpecimen(yield_strength=450, tensile_strength=600, max_force_elongation=12)
        await reports.record_report(settings, redis, None, lab_user, b.id, ReportIn(
            report_no=f"RB{i:05d}", report_date=date(2026, 10, 5), rebar=[spec, spec]))
        await service.record_use(redis, admin, b.id, UseIn(building="3#", floor="5F", element="KZ1"))
        labels = await service.issue_labels(settings, admin, b.id, N_BUNDLES)
        contents += [lab.content for lab in labels]
    now = utcnow()
    users = await Project.raw(
        "INSERT INTO users (id, role, display_name, openid, phone, is_active, created_at)"
        " SELECT gen_random_uuid(), 'citizen', 'bench', 'o_mbench_' || g, '', true, now()"
        " FROM generate_series(1, {}) g RETURNING id", N_CITIZENS)
    tokens = [issue_access_token(settings, Principal(kind="user", id=u["id"], role=Role.CITIZEN), now)[0]
              for u in users]
    await redis.aclose()
    await db.close_pool()
    return contents, tokens, gcj02_to_wgs84(project["lng"], project["lat"])


def _client(port: int, contents: list[str], tokens: list[str], site: tuple[float, float], mode: str,
            seconds: float, value: float, offset: int, out: mp.Queue, path: str = "/mp/v1/materials/scan") -> None:
    reqs = [build("127.0.0.1", port, path, json.dumps(
        {"content": contents[(i + offset) % len(contents)],
         "location": {"lng": site[0], "lat": site[1], "coord_type": "wgs84"}}).encode(),
        {"Authorization": f"Bearer {tokens[(i * 7 + offset) % len(tokens)]}"}) for i in range(4000)]

    def scan(i: int) -> bytes:
        return reqs[i % len(reqs)]

    if mode == "closed":
        out.put(asyncio.run(closed_loop("127.0.0.1", port, scan, seconds, max(1, int(value)))))
    else:
        out.put(asyncio.run(fixed_rate("127.0.0.1", port, scan, value, seconds)))


def _warm(port: int, contents: list[str], tokens: list[str], site: tuple[float, float]) -> dict:
    """Scan every label once and sign every citizen in once (not for a set time: on a loaded machine a timed
    warm-up left labels cold, and the measured phase then timed cache builds instead of the cached read)."""
    import httpx

    async def go() -> int:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            async def one(i: int) -> None:
                async with sem:
                    r = await client.post("/mp/v1/materials/scan", json={
                        "content": contents[i % len(contents)],
                        "location": {"lng": site[0], "lat": site[1], "coord_type": "wgs84"}},
                        headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
                    r.raise_for_status()
            n = max(len(contents), len(tokens))
            await asyncio.gather(*(one(i) for i in range(n)))
            return n

    return {"n": asyncio.run(go())}


def _run(port, contents, tokens, site, mode, seconds, value, clients, path="/mp/v1/materials/scan") -> dict:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_client, args=(port, contents, tokens, site, mode, seconds, value / clients,
                                              k * 1_000_003, q, path)) for k in range(clients)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return {"rps": sum(r["rps"] for r in results), "p50_ms": max(r["p50_ms"] for r in results),
            "p99_ms": max(r["p99_ms"] for r in results), "errors": sum(r["errors"] for r in results),
            "n": sum(r["n"] for r in results)}


async def _flush_and_count() -> tuple[int, int]:
    from redis.asyncio import Redis

    from backend import db
    from backend.materials import trace
    from backend.materials.tables import MaterialScan
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    redis = Redis.from_url(settings.REDIS_URL)
    started = datetime.now(UTC)
    moved = 0
    while (n := await trace.flush_scans(redis)) > 0:
        moved += n
    took = (datetime.now(UTC) - started).total_seconds()
    total = await MaterialScan.count()
    await redis.aclose()
    await db.close_pool()
    print(f"flush to PostgreSQL    : {moved} scans in {took:.2f} s ({moved / max(took, 1e-9):.0f}/s)")
    return moved, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0, help="offered rate; 0: half the measured maximum")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    env = bench_env(redis_db=8)
    env["ZHIJIAN_S3_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    os.environ.update(env)
    s3_port = env["ZHIJIAN_S3_ENDPOINT"].rsplit(":", 1)[1]
    api_port, bare_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    # SIGTERM (e.g. from `timeout`) unwinds through finally too, so the scratch database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        create_database(env)
        subprocess.run([sys.executable, "-m", "backend.cli", "seed-demo"], cwd=ROOT, env={**os.environ}, check=True,
                       capture_output=True)
        subprocess.run(["redis-cli", "-u", env["ZHIJIAN_REDIS_URL"], "flushdb"], check=False, capture_output=True)
        procs.append(start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", s3_port], env,
                           "/tmp/bench_mat_moto.log"))
        wait_http(env["ZHIJIAN_S3_ENDPOINT"])
        contents, tokens, site = asyncio.run(prepare())
        uv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
        api = start([*uv, "--factory", "backend.app:create_app", "--port", str(api_port), "--workers",
                     str(args.workers)], env, "/tmp/bench_mat_api.log")
        bare = start([*uv, "bench._bare_app:app", "--port", str(bare_port), "--workers", str(args.workers)], env,
                     "/tmp/bench_mat_bare.log")
        procs += [api, bare]
        wait_http(f"http://127.0.0.1:{api_port}/healthz")
        wait_http(f"http://127.0.0.1:{bare_port}/bare")
        print(f"machine                : {os.cpu_count()} CPUs; API uvicorn --workers {args.workers}; "
              f"{args.clients} load process(es); {len(contents)} labels, {len(tokens)} citizens")
        # Warm the caches on every label (1,000 labels, 200 trace views): a 2-s warm-up left part of them cold,
        # and the measured phase then timed trace rebuilds instead of the cached read it is meant to measure.
        w = _warm(api_port, contents, tokens, site)
        b = _run(bare_port, contents, tokens, site, "closed", args.seconds, args.concurrency, args.clients, "/bare/ok")
        print(f"bare endpoint (closed) : {b['rps']:7.0f} req/s    p50 {b['p50_ms']:6.1f} ms  p99 {b['p99_ms']:6.1f} ms"
              f"  errors {b['errors']}  (concurrency {args.concurrency})")
        c = _run(api_port, contents, tokens, site, "closed", args.seconds, args.concurrency, args.clients)
        print(f"scan → trace (closed)  : {c['rps']:7.0f} scans/s  p50 {c['p50_ms']:6.1f} ms  p99 {c['p99_ms']:6.1f} ms"
              f"  errors {c['errors']}  (concurrency {args.concurrency})")
        print(f"ratio                  : {c['rps'] / b['rps'] * 100:5.1f} % of the bare endpoint (goal >= 70 %)")
        rate = args.rate or c["rps"] / 2
        f = _run(api_port, contents, tokens, site, "rate", args.seconds, rate, args.clients)
        print(f"at {rate:.0f}/s offered      : {f['rps']:7.0f} scans/s  p50 {f['p50_ms']:6.1f} ms  "
              f"p99 {f['p99_ms']:6.1f} ms  errors {f['errors']}  (goal p99 < 50 ms)")
        _, total = asyncio.run(_flush_and_count())
        sent = w["n"] + c["n"] + f["n"]
        print(f"scans recorded         : {total} rows in material_scans for {sent} answered scans "
              f"({'none lost' if total == sent else f'MISMATCH {sent - total}'})")
        emit("materials_scan", [
            relation("scan → trace, max rate", c["rps"], "req/s", "bare endpoint", b["rps"], 0.7),
            bound(f"p99 at {rate:.0f}/s offered (half the max)", f["p99_ms"], "ms", 50, "< 50 ms"),
            bound("scans answered but not recorded", sent - total, "", 1, "0"),
        ])
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
