"""Notifications delivered per second through one real ARQ worker to the fake WeChat server.

    .venv/bin/python bench/notifications_throughput.py [--count 5000] [--batch 100]

End to end: from notify() (the row written) to the recorded 'sent' receipt, measured from the
database timestamps. Prints the rate and the p50/p99 delay. Target (issue 3): ≥ 500/s on 2 cores.
With --rate the load is offered steadily (e.g. --rate 400 --batch 10) and the delay shows what one
alarm waits; without it all notifications arrive in one burst and the delay is mostly queueing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import BIN, bench_env, create_database, drop_database, percentile, start, wait_http  # noqa: E402


async def run(count: int, batch: int, rate: float) -> None:
    from backend import db
    from backend.clients.redis import create_arq_pool
    from backend.notifications import service
    from backend.notifications.tables import Delivery
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    arq = await create_arq_pool(settings)
    await arq.flushdb()
    users = await Delivery.raw(
        "INSERT INTO users (id, role, display_name, openid, phone, is_active, created_at)"
        " SELECT gen_random_uuid(), 'project_lead', 'bench', 'o_bench_' || g, '', true, now()"
        " FROM generate_series(1, {}) g RETURNING id",
        count,
    )
    ids = [u["id"] for u in users]
    started = time.perf_counter()
    for i in range(0, count, batch):
        if rate:  # a steady offered load instead of one burst
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await service.notify(
            ids[i : i + batch], "alarm_raised",
            {"project": "基准测试项目", "point": f"CX-{i}", "level": "报警", "time": "现在", "detail": "累计变化超过报警值"},
            dedup_key=f"bench:{i}", settings=settings, arq=arq,
        )
    enqueued = time.perf_counter() - started
    while True:
        left = await Delivery.count().where((Delivery.channel == "wechat") & Delivery.status.is_in(["pending", "sending", "retrying"]))
        if left == 0:
            break
        if time.perf_counter() - started > 300:
            print(f"timeout: {left} receipts still pending")
            break
        await asyncio.sleep(0.2)
    rows = await Delivery.raw(
        "SELECT EXTRACT(EPOCH FROM (d.finished_at - n.created_at)) AS delay, d.status,"
        " EXTRACT(EPOCH FROM d.finished_at) AS done, EXTRACT(EPOCH FROM n.created_at) AS created"
        " FROM notification_deliveries d JOIN notifications n ON n.id = d.notification WHERE d.channel = 'wechat'"
    )
    sent = [r for r in rows if r["status"] == "sent"]
    span = max(float(r["done"]) for r in sent) - min(float(r["created"]) for r in rows)
    delays = [float(r["delay"]) * 1000 for r in sent]
    load = f"offered at {rate:.0f}/s" if rate else "one burst"
    print(f"notifications: {count} ({load}, notify() calls of {batch} recipients; enqueue took {enqueued:.2f} s)")
    print(f"sent: {len(sent)}   other: {len(rows) - len(sent)}")
    print(f"throughput: {len(sent) / span:.0f} notifications/s end to end (first notify → last receipt, {span:.2f} s)")
    print(f"delay notify→receipt: p50 {percentile(delays, 50):.0f} ms   p99 {percentile(delays, 99):.0f} ms")
    await arq.flushdb()
    await arq.aclose()
    await db.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="offered notifications/s (0: one burst)")
    args = parser.parse_args()
    env = bench_env()
    os.environ.update(env)
    create_database(env)
    port = env["ZHIJIAN_WECHAT_API_BASE_URL"].rsplit(":", 1)[1]
    fake = start([sys.executable, "scripts/fake_wechat.py", "--port", port], env, "/tmp/bench_fake_wechat.log")
    worker = start([str(BIN / "arq"), "workers.settings.WorkerSettings"], env, "/tmp/bench_worker.log")
    try:
        wait_http(env["ZHIJIAN_WECHAT_API_BASE_URL"] + "/__fake__/stats")
        time.sleep(2.5)  # worker start-up
        asyncio.run(run(args.count, args.batch, args.rate))
        import httpx

        stats = httpx.get(env["ZHIJIAN_WECHAT_API_BASE_URL"] + "/__fake__/stats").json()
        print(f"fake WeChat received {stats.get('messages', 0)} messages, {stats.get('token_fetches', 0)} token fetch(es)")
    finally:
        for proc in (worker, fake):
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        drop_database(env)


if __name__ == "__main__":
    main()
