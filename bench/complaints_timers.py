"""SLA timers at scale: rebuild after a Redis flush, and how close to their due time they fire.

    .venv/bin/python bench/complaints_timers.py [--open 100000] [--firing 300]

1. `--open` open complaints with live SLA timers (rows of the timer service, `timers`, kind
   `complaint_sla`; a 90-minute SLA so that the first stages fall within the one-hour arming horizon)
   are written straight into PostgreSQL; Redis is flushed; the reconciler's rebuild
   (`timers.service.rebuild_jobs`) re-creates the job of every timer due within the horizon. Target: < 60 s.
2. `--firing` complaints whose timers fall due over the next ~10 s are handed to one real ARQ worker;
   prints how late they fired (fired_at − due_at). Target: within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import BIN, ROOT, bench_env, bound, create_database, drop_database, emit, percentile, start  # noqa: E402

INSERT = (
    "WITH c AS ("
    " INSERT INTO complaints (id, number, citizen, source, category, description, address, lng, lat, district, station,"
    " status, paused_from, submitted_at, clock_started_at, sla_seconds, deadline_at, paused_total_s, sla_version,"
    " overdue, resolution_notes, reject_reason, satisfaction_comment, reopen_count, contact, updated_at)"
    " SELECT gen_random_uuid(), 'B' || {} || '-' || g, NULL, 'bench', 'other', '基准测试', '', 120.65, 28.01, 330302, NULL,"
    " 'dispatched', '', now(), now(), {}, now() + make_interval(secs => {}), 0, 1, false, '', '', '', 0, jsonb_build_object(), now()"
    " FROM generate_series(1, {}) g RETURNING id, clock_started_at, sla_seconds)"
    " INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
    " SELECT gen_random_uuid(), 'complaint_sla', c.id::text || ':' || s.stage || ':0',"
    " c.clock_started_at + make_interval(secs => c.sla_seconds * s.f + {} * random()),"
    " jsonb_build_object('complaint', c.id::text, 'stage', s.stage, 'clock', 0), 'scheduled', 1, now(), now()"
    " FROM c CROSS JOIN (VALUES ('remind_1', 1.0/3), ('remind_2', 2.0/3), ('warning', 66.0/72), ('breach', 1.0)) AS s(stage, f)"
)


async def rebuild(n_open: int) -> None:
    from backend import db
    from backend.clients.redis import create_arq_pool
    from backend.complaints.tables import Complaint
    from backend.db import utcnow
    from backend.settings import get_settings
    from backend.timers.service import rebuild_jobs

    settings = get_settings()
    await db.open_pool(settings)
    arq = await create_arq_pool(settings)
    started = time.perf_counter()
    for part in range(0, n_open, 20000):
        await Complaint.raw(INSERT, f"o{part}", 5400.0, 5400.0, min(20000, n_open - part), 0)
    print(f"open complaints with live timers: {n_open} ({4 * n_open} timer rows) written in {time.perf_counter() - started:.1f} s")
    await arq.flushdb()
    started = time.perf_counter()
    created = await rebuild_jobs(arq, utcnow())
    took = time.perf_counter() - started
    queued = await arq.zcard(arq.default_queue_name)
    print(f"rebuild after a Redis flush: {created} timer jobs (those due within the hour) re-created in {took:.1f} s"
          f" (target < 60 s); queue holds {queued}")
    again = time.perf_counter()
    second = await rebuild_jobs(arq, utcnow())
    print(f"a second rebuild finds them all present: {second} created in {time.perf_counter() - again:.1f} s")
    emit("complaints_timers", [bound(f"rebuild of the timer jobs after a Redis flush ({n_open} open complaints)", took,
                                     "s", 60, "< 60 s")])
    await arq.flushdb()
    await arq.aclose()
    await db.close_pool()


async def firing(n: int, env: dict[str, str]) -> None:
    from backend import db
    from backend.clients.redis import create_arq_pool
    from backend.complaints.tables import Complaint
    from backend.db import utcnow
    from backend.settings import get_settings
    from backend.timers.service import rebuild_jobs
    from backend.timers.tables import DueTimer

    settings = get_settings()
    await db.open_pool(settings)
    arq = await create_arq_pool(settings)
    await Complaint.raw("UPDATE complaints SET status = 'closed'")  # park the big set
    await Complaint.raw("UPDATE timers SET status = 'cancelled'")
    # SLA 12 s from now: remind at 4 s, 8 s, warning at 11 s, breach at 12 s; ±1 s jitter between complaints.
    await Complaint.raw(INSERT, "fire", 12.0, 12.0, n, 1.0)
    worker = start([str(BIN / "arq"), "workers.settings.WorkerSettings"], env, "/tmp/bench_timer_worker.log")
    try:
        await rebuild_jobs(arq, utcnow())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = await DueTimer.count().where(DueTimer.status == "scheduled")
            if left == 0:
                break
            await asyncio.sleep(0.5)
        rows = await DueTimer.raw(
            "SELECT EXTRACT(EPOCH FROM (fired_at - due_at)) AS late FROM timers WHERE fired_at IS NOT NULL"
        )
        late = [float(r["late"]) for r in rows]
        print(f"timers fired: {len(late)} of {4 * n}; lateness p50 {percentile(late, 50):.2f} s, "
              f"p99 {percentile(late, 99):.2f} s, max {max(late):.2f} s (goal p99 < 1 s)")
        emit("complaints_timers", [
            bound(f"timers fired late, p99 ({4 * n} due over ~12 s, one worker; no API load in this bench)",
                  percentile(late, 99), "s", 1.0, "< 1 s"),
            bound("timers not fired", 4 * n - len(late), "", 1, "0"),
        ])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        await arq.flushdb()
        await arq.aclose()
        await db.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--firing", type=int, default=300)
    args = parser.parse_args()
    env = bench_env(redis_db=8)
    env["ZHIJIAN_RECONCILE_EVERY_S"] = "60"
    os.environ.update(env)
    create_database(env)
    subprocess.run([sys.executable, "-m", "backend.cli", "seed-demo"], cwd=ROOT, env={**os.environ}, check=True, capture_output=True)
    port = env["ZHIJIAN_WECHAT_API_BASE_URL"].rsplit(":", 1)[1]
    fake = start([sys.executable, "scripts/fake_wechat.py", "--port", port], env, "/tmp/bench_fake_wechat.log")
    try:
        asyncio.run(rebuild(args.open))
        asyncio.run(firing(args.firing, env))
    finally:
        fake.send_signal(signal.SIGTERM)
        fake.wait(10)
        drop_database(env)


if __name__ == "__main__":
    main()
