"""Shared set-up for bench scripts: a scratch database and Redis db, and helper processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(redis_db: int = 10) -> dict[str, str]:
    """Environment for a bench run: scratch database name, its own Redis db and fake WeChat port."""
    name = f"zhijian_bench_{uuid.uuid4().hex[:8]}"
    return {
        "ZHIJIAN_ENV": "test",
        "ZHIJIAN_LOG_LEVEL": "WARNING",
        "ZHIJIAN_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
        "ZHIJIAN_REDIS_URL": f"{REDIS_BASE}/{redis_db}",
        "ZHIJIAN_WECHAT_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "ZHIJIAN_S3_ENDPOINT": "http://127.0.0.1:9",
        "PICCOLO_CONF": "backend.piccolo_conf",
        "BENCH_DB": name,
    }


def create_database(env: dict[str, str]) -> None:
    subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{env["BENCH_DB"]}"'], check=True)
    subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], cwd=ROOT, env={**os.environ, **env},
                   check=True, capture_output=True)


def drop_database(env: dict[str, str]) -> None:
    subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{env["BENCH_DB"]}" WITH (FORCE)'], check=False)


def start(cmd: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def wait_http(url: str, timeout: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def emit(bench: str, figures: list[dict]) -> None:
    """Hand this bench's figures to bench/run_all.py: one JSON line per figure appended to $BENCH_RESULTS.

    A figure is {"name", "value", "unit"} and, where it is a relation, "anchor" (its value), "anchor_name",
    "ratio" (value / anchor), "goal" (words) and "met" (bool). Without $BENCH_RESULTS nothing is written.
    """
    import json

    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for fig in figures:
            out.write(json.dumps({"bench": bench, **fig}, ensure_ascii=False) + "\n")


def relation(name: str, value: float, unit: str, anchor_name: str, anchor: float, goal: float) -> dict:
    """A figure measured beside its anchor in the same run; met when value / anchor >= goal."""
    ratio = value / anchor if anchor else float("nan")
    return {"name": name, "value": value, "unit": unit, "anchor_name": anchor_name, "anchor": anchor,
            "ratio": ratio, "goal": f"≥ {goal:.0%} of the anchor", "met": bool(ratio >= goal)}


def beside(name: str, value: float, unit: str, anchor_name: str, anchor: float, words: str) -> dict:
    """A figure shown beside a second anchor for its cause, with no goal of its own (e.g. a path that stores a
    record beside a bare endpoint that only commits one row)."""
    ratio = value / anchor if anchor else float("nan")
    return {"name": name, "value": value, "unit": unit, "anchor_name": anchor_name, "anchor": anchor,
            "ratio": ratio, "goal": words}


def bound(name: str, value: float, unit: str, limit: float, words: str) -> dict:
    """A figure with an upper bound (latency, lateness, memory); met when value < limit."""
    return {"name": name, "value": value, "unit": unit, "goal": words, "met": bool(value < limit)}


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
