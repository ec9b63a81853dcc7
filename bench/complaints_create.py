"""Complaint create throughput beside a bare Litestar endpoint, measured in the same run.

    .venv/bin/python bench/complaints_create.py [--seconds 10] [--concurrency 16] [--rate R]

Both are served by uvicorn (one process each, same flags) on loopback; the load generator is one
httpx process. Photos are already uploaded (verified media rows); each request files a complaint
for one of many citizens (the per-citizen rate limit stays untouched). Prints requests/s, the ratio
(goal ≥ 50 %), p99 at a fixed offered rate of half the path's own maximum (goal < 50 ms; `--rate`
sets it), and the API's RSS (goal < 300 MB). The complaint path does real work: district lookup, dispatch, SLA timers, two
notifications, the citizen view with signed photo URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._load import closed_loop, fixed_rate  # noqa: E402
from bench._support import (
    BIN, beside, ROOT, bench_env, bound, create_database, drop_database, emit, free_port, relation, start, wait_http,
)

N_CITIZENS = 3000


async def prepare() -> list[tuple[str, str]]:
    """Citizens with access tokens, each with verified photos (as if uploaded before)."""
    from backend import db
    from backend.auth.principal import Principal, Role
    from backend.auth.tokens import issue_access_token
    from backend.db import utcnow
    from backend.media.tables import Media
    from backend.settings import get_settings

    settings = get_settings()
    await db.open_pool(settings)
    users = await Media.raw(
        "INSERT INTO users (id, role, display_name, openid, phone, is_active, created_at)"
        " SELECT gen_random_uuid(), 'citizen', 'bench', 'o_cbench_' || g, '', true, now()"
        " FROM generate_series(1, {}) g RETURNING id",
        N_CITIZENS,
    )
    from backend.privacy.notice import current

    for item in ("general", "location"):  # the bench citizens accepted the notices (issue 23)
        await Media.raw("INSERT INTO privacy_consents (id, \"user\", item, version, accepted_at)"
                        " SELECT gen_random_uuid(), x, {}, {}, now() FROM unnest({}::uuid[]) x",
                        item, current(item).version, [u["id"] for u in users])
    out = []
    now = utcnow()
    for u in users:
        photos = await Media.raw(
            "INSERT INTO media (id, owner, purpose, status, bucket, key, thumb_key, incoming_key, content_type, width,"
            " height, bytes, sha256, reject_reason, attached_type, attached_id, created_at, verified_at)"
            " SELECT gen_random_uuid(), {}, 'complaint', 'verified', 'photos', 'complaint/bench/' || g || '.jpg',"
            " 'complaint/bench/' || g || '_t.jpg', '', 'image/jpeg', 640, 480, 1000, '', '', '', '', now(), now()"
            " FROM generate_series(1, 12) g RETURNING id",
            u["id"],
        )
        token, _ = issue_access_token(settings, Principal(kind="user", id=u["id"], role=Role.CITIZEN), now)
        for p in photos:
            out.append((token, str(p["id"])))
    await db.close_pool()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0, help="offered rate; 0: half the measured maximum")
    args = parser.parse_args()
    env = bench_env(redis_db=9)
    env["ZHIJIAN_S3_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    env["ZHIJIAN_COMPLAINTS_PER_HOUR"] = "100000"
    env["ZHIJIAN_COMPLAINTS_PER_DAY"] = "100000"
    os.environ.update(env)
    create_database(env)
    subprocess.run([sys.executable, "-m", "backend.cli", "seed-demo"], cwd=ROOT, env={**os.environ}, check=True, capture_output=True)
    s3_port = env["ZHIJIAN_S3_ENDPOINT"].rsplit(":", 1)[1]
    wx_port = env["ZHIJIAN_WECHAT_API_BASE_URL"].rsplit(":", 1)[1]
    api_port, bare_port = free_port(), free_port()
    procs = [
        start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", s3_port], env, "/tmp/bench_moto.log"),
        start([sys.executable, "scripts/fake_wechat.py", "--port", wx_port], env, "/tmp/bench_fake_wechat.log"),
    ]
    try:
        wait_http(env["ZHIJIAN_S3_ENDPOINT"])
        tokens = asyncio.run(prepare())
        uv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
        api = start([*uv, "--factory", "backend.app:create_app", "--port", str(api_port)], env, "/tmp/bench_api.log")
        bare = start([*uv, "bench._bare_app:app", "--port", str(bare_port)], env, "/tmp/bench_bare.log")
        procs += [api, bare]
        wait_http(f"http://127.0.0.1:{api_port}/healthz")
        wait_http(f"http://127.0.0.1:{bare_port}/bare")
        lng, lat = 120.6555, 28.0185  # 鹿城区 (WGS-84)

        def complaint(i: int) -> dict:
            token, photo = tokens[i % len(tokens)]
            return {"json": {"category": "shoddy_work", "description": f"基准测试投诉 {i} 楼板裂缝",
                             "location": {"lng": lng, "lat": lat, "coord_type": "wgs84"}, "photo_ids": [photo]},
                    "headers": {"Authorization": f"Bearer {token}"}}

        def bare_body(i: int) -> dict:
            return {"json": {"category": "shoddy_work", "description": f"基准测试 {i}", "location": {"lng": lng, "lat": lat}}}

        async def run() -> None:
            b = await closed_loop(f"http://127.0.0.1:{bare_port}/bare", bare_body, args.seconds, args.concurrency)
            if os.environ.get("BENCH_PROFILE"):  # a py-spy profile of the API during the complaint run
                subprocess.Popen([str(BIN / "py-spy"), "record", "-d", str(int(args.seconds)), "-p", str(api.pid),
                                  "-o", os.environ["BENCH_PROFILE"], "-f", "raw", "--nonblocking"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c = await closed_loop(f"http://127.0.0.1:{api_port}/mp/v1/complaints", complaint, args.seconds, args.concurrency)
            k = await closed_loop(f"http://127.0.0.1:{bare_port}/bare/commit", bare_body, args.seconds, args.concurrency)
            print(f"bare Litestar endpoint : {b['rps']:7.0f} req/s  p50 {b['p50_ms']:6.1f} ms  p99 {b['p99_ms']:6.1f} ms  errors {b['errors']}")
            print(f"bare + one commit      : {k['rps']:7.0f} req/s  p50 {k['p50_ms']:6.1f} ms  p99 {k['p99_ms']:6.1f} ms  errors {k['errors']}"
                  "  (the least a stored record costs)")
            print(f"complaint create       : {c['rps']:7.0f} req/s  p50 {c['p50_ms']:6.1f} ms  p99 {c['p99_ms']:6.1f} ms  errors {c['errors']}")
            print(f"ratio                  : {c['rps'] / b['rps'] * 100:5.1f} % of the bare endpoint (goal >= 50 %); "
                  f"{c['rps'] / k['rps'] * 100:5.1f} % of the bare endpoint with one commit")
            offset = c["n"] + 1
            rate = args.rate or c["rps"] / 2
            f = await fixed_rate(f"http://127.0.0.1:{api_port}/mp/v1/complaints", lambda i: complaint(offset + i), rate, args.seconds)
            print(f"at {rate:.0f}/s offered     : p50 {f['p50_ms']:6.1f} ms  p99 {f['p99_ms']:6.1f} ms  errors {f['errors']} (goal p99 < 50 ms)")
            figures.extend([
                relation("complaint create, max rate", c["rps"], "req/s", "bare endpoint", b["rps"], 0.5),
                beside("complaint create beside one commit", c["rps"], "req/s", "bare endpoint + one INSERT committed",
                       k["rps"], "cause of the gap: a stored record"),
                bound(f"p99 at {rate:.0f}/s offered (half the max)", f["p99_ms"], "ms", 50, "< 50 ms"),
                bound("requests refused or failed", c["errors"] + f["errors"], "", 1, "0"),
            ])

        figures: list[dict] = []
        asyncio.run(run())
        rss = int(open(f"/proc/{api.pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024
        print(f"API process RSS        : {rss} MB (goal < 300 MB)")
        emit("complaints_create", [*figures, bound("API process RSS", rss, "MB", 300, "< 300 MB")])
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
