"""Outbox delivery beside a bare HTTP client posting the same messages to the same fake WeChat server.

    .venv/bin/python bench/notifications_throughput.py [--count 2000] [--batch 100] [--concurrency 32]
                                                       [--steady-s 6]

Three phases in one run, on one scratch database and one fake WeChat server (scripts/fake_wechat.py):

1. anchor — a bare client: httpx.AsyncClient, ``--concurrency`` requests in flight, posts the N subscribe
   messages notify() would produce (same openids, template id and rendered data) straight to
   ``/cgi-bin/message/subscribe/send``. Nothing is stored. Its rate is the ceiling for this fake here.
2. outbox burst — N notifications written by notify() in transactions of ``--batch`` recipients; one real
   ARQ worker's outbox dispatcher delivers them. Rate = N / (first notify → last receipt written), from the
   database timestamps. Printed as a share of the anchor (goal: >= 70 %).
3. steady — notifications offered one by one (by 8 concurrent producers) at half the anchor's rate for ``--steady-s`` seconds; the delay
   is notify's commit → the receipt written 'sent'; p50 / p99 printed.

The machine is shared: the load average and CPU count are printed beside the figures; take them as
relative (the anchor is measured in the same run, on the same machine, at the same moment).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import (  # noqa: E402
    BIN, bench_env, bound, create_database, drop_database, emit, percentile, relation, start, wait_http,
)

TEMPLATE = "alarm_raised"
LANES = 8  # steady phase: producers writing notifications at once


def _data(i: int) -> dict[str, str]:
    return {"project": "基准测试项目", "point": f"CX-{i}", "level": "报警", "time": "现在", "detail": "累计变化超过报警值"}


async def bare(base: str, openids: list[str], concurrency: int) -> float:
    """The anchor: the same messages posted as fast as the fake answers; returns messages/s."""
    import httpx

    from backend.notifications.templates import get_template, render, wechat_template_id
    from backend.settings import get_settings

    settings = get_settings()
    tpl = get_template(TEMPLATE)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=concurrency)) as http:
        token = (await http.post("/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": settings.WECHAT_APPID, "secret": settings.WECHAT_SECRET,
        })).json()["access_token"]
        bodies = []
        for i, openid in enumerate(openids):
            _, _, page, wechat = render(tpl, _data(i))
            bodies.append({"touser": openid, "template_id": wechat_template_id(settings, tpl), "page": page,
                           "data": wechat, "miniprogram_state": settings.WECHAT_MINIPROGRAM_STATE})
        queue: asyncio.Queue[dict] = asyncio.Queue()
        for b in bodies:
            queue.put_nowait(b)
        failures = 0

        async def lane() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                answer = (await http.post("/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body)).json()
                failures += answer.get("errcode", 0) != 0

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        print(f"bare client: {failures} refused")
    return len(bodies) / elapsed


async def _wait_sent(dedup_like: str, count: int, timeout: float) -> None:
    from backend.notifications.tables import Delivery

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        rows = await Delivery.raw(
            "SELECT count(*) AS n FROM notification_deliveries d JOIN notifications n ON n.id = d.notification"
            " WHERE d.channel = 'wechat' AND d.status = 'sent' AND n.dedup_key LIKE {}", dedup_like,
        )
        if rows[0]["n"] >= count:
            return
        await asyncio.sleep(0.1)
    print(f"timeout: fewer than {count} of {dedup_like} sent")


async def _delays(dedup_like: str) -> tuple[list[float], float]:
    from backend.notifications.tables import Delivery

    rows = await Delivery.raw(
        "SELECT EXTRACT(EPOCH FROM (d.finished_at - n.created_at)) AS delay,"
        " EXTRACT(EPOCH FROM d.finished_at) AS done, EXTRACT(EPOCH FROM n.created_at) AS created"
        " FROM notification_deliveries d JOIN notifications n ON n.id = d.notification"
        " WHERE d.channel = 'wechat' AND d.status = 'sent' AND n.dedup_key LIKE {}", dedup_like,
    )
    span = max(float(r["done"]) for r in rows) - min(float(r["created"]) for r in rows)
    return [float(r["delay"]) * 1000 for r in rows], span


async def run(count: int, batch: int, concurrency: int, steady_s: float, base: str) -> None:
    import httpx

    from backend import db
    from backend.notifications import service
    from backend.notifications.tables import Notification
    from backend.notifications.templates import get_template
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    users = await Notification.raw(
        "INSERT INTO users (id, role, display_name, openid, phone, is_active, created_at)"
        " SELECT gen_random_uuid(), 'project_lead', 'bench', 'o_bench_' || g, '', true, now()"
        " FROM generate_series(1, {}) g RETURNING id, openid",
        count,
    )
    ids, openids = [u["id"] for u in users], [u["openid"] for u in users]
    # WeChat sends only against acceptances the user gave (wx.requestSubscribeMessage) and we were told of: three
    # each (the anchor's message, the burst's, one steady one; more below where the steady phase needs them), at the
    # fake and in our quota table.
    template_id = get_template(TEMPLATE).wechat_template_id
    await Notification.raw(
        "INSERT INTO wechat_subscriptions (\"user\", template_id, kind, remaining, status, updated_at)"
        " SELECT u, {}, 'one_time', 3, 'accept', now() FROM unnest({}::uuid[]) AS u",
        template_id, ids,
    )
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as taps:
        sem = asyncio.Semaphore(32)

        async def tap(openid: str) -> None:
            async with sem:
                for _ in range(3):
                    await taps.post(base + "/__fake__/subscribe",
                                    json={"openid": openid, "results": {template_id: "accept"}})

        await asyncio.gather(*(tap(o) for o in openids))
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          f" (shared; figures taken under contention)")

    anchor = await bare(base, openids, concurrency)
    print(f"anchor  bare httpx client, {concurrency} in flight: {anchor:.0f} messages/s")
    httpx.post(base + "/__fake__/reset")

    started = time.perf_counter()
    for i in range(0, count, batch):
        async with Notification._meta.db.transaction():
            await service.notify(ids[i : i + batch], TEMPLATE, _data(i), dedup_key=f"burst:{i}", settings=settings, arq=None)
    written = time.perf_counter() - started
    await _wait_sent("burst:%", count, 300)
    delays, span = await _delays("burst:%")
    rate = len(delays) / span
    print(f"outbox  burst of {count} (notify() of {batch} recipients, written in {written:.2f} s): {rate:.0f}"
          f" notifications/s end to end = {rate / anchor:.0%} of the anchor (goal >= 70 %)")

    offered = anchor / 2
    n = max(1, int(offered * steady_s))
    # A steady phase longer than one message per user sends some users more: each gets the acceptances it needs
    # (at the fake and in our table) before the clock starts, so no steady message is refused 43101.
    extra = [j for j in range(count) for _ in range(max(0, len(range(j, n, count)) - 1))]
    if extra:
        async with httpx.AsyncClient(timeout=30) as taps:
            for j in extra:
                await taps.post(base + "/__fake__/subscribe",
                                json={"openid": openids[j], "results": {template_id: "accept"}})
        await Notification.raw(
            "UPDATE wechat_subscriptions w SET remaining = w.remaining + x.c FROM (SELECT u, count(*) AS c"
            " FROM unnest({}::uuid[]) AS u GROUP BY u) x WHERE w.\"user\" = x.u AND w.template_id = {}",
            [ids[j] for j in extra], template_id,
        )
    started = time.perf_counter()

    async def producer(lane: int) -> None:  # LANES producers share the schedule, as concurrent API requests would
        for i in range(lane, n, LANES):
            await asyncio.sleep(max(0.0, started + i / offered - time.perf_counter()))
            await service.notify([ids[i % count]], TEMPLATE, _data(i), dedup_key=f"steady:{i}", settings=settings, arq=None)

    await asyncio.gather(*(producer(k) for k in range(LANES)))
    late = time.perf_counter() - started - n / offered
    await _wait_sent("steady:%", n, 120)
    delays, _ = await _delays("steady:%")
    print(f"outbox  steady {offered:.0f}/s offered (half the anchor) for {steady_s:.0f} s, {n} notifications"
          f" (offering ran {late:+.2f} s behind schedule): delay commit→sent p50 {percentile(delays, 50):.0f} ms"
          f"  p99 {percentile(delays, 99):.0f} ms  max {max(delays):.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    emit("notifications_throughput", [
        relation("outbox delivery, burst", rate, "msg/s", "bare HTTP client, same messages, same fake", anchor, 0.7),
        bound(f"delay commit→sent p99 at {offered:.0f}/s offered (half the anchor)", percentile(delays, 99), "ms",
              1000, "< 1 s"),
    ])
    await db.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--steady-s", type=float, default=6.0)
    args = parser.parse_args()
    env = bench_env()
    os.environ.update(env)
    create_database(env)
    base = env["ZHIJIAN_WECHAT_API_BASE_URL"]
    port = base.rsplit(":", 1)[1]
    fake = start([sys.executable, "scripts/fake_wechat.py", "--port", port], env, "/tmp/bench_fake_wechat.log")
    worker = start([str(BIN / "arq"), "workers.settings.WorkerSettings"], env, "/tmp/bench_worker.log")
    try:
        wait_http(base + "/__fake__/stats")
        time.sleep(3)  # worker start-up
        asyncio.run(run(args.count, args.batch, args.concurrency, args.steady_s, base))
    finally:
        for proc in (worker, fake):
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        drop_database(env)


if __name__ == "__main__":
    main()
