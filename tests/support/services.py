"""Session fixtures for the real services: the test database, Redis db, and an S3 server (moto)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from tests.support import env

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


async def _admin_exec(sql: str) -> None:
    conn = await asyncpg.connect(env.PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_cli(*args: str, check: bool = True, database_url: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m backend.cli ...` as the README commands do."""
    proc_env = {**os.environ}
    if database_url:
        proc_env["ZHIJIAN_DATABASE_URL"] = database_url
    proc = subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"backend.cli {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on a free loopback port (no MinIO binary exists here)."""
    log = open(ROOT / ".pytest_moto.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(env.S3_PORT)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{env.S3_PORT}"
    try:
        _wait_http(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(env.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
    env.release_redis_db()


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A fresh database for this run, migrated by the CLI, seeded with demo data, dropped at the end."""
    asyncio.run(_admin_exec(f'CREATE DATABASE "{env.TEST_DB}"'))
    try:
        run_cli("migrate")
        run_cli("seed-demo")
        yield env.DATABASE_URL
        _audit_stored_messages()
        _scan_personal_values()
    finally:
        asyncio.run(_admin_exec(f'DROP DATABASE IF EXISTS "{env.TEST_DB}" WITH (FORCE)'))


def _scan_personal_values() -> None:
    """Issue 23: the run's logs (every process, INFO) and the stored webhook bodies must carry no unmasked ID
    number, mobile number or bank card number (tests/conftest.py fails the run on any; AUDIT["pii"])."""
    import glob

    from backend.privacy import pii_scan
    from tests.support import wechat

    findings: list[pii_scan.Finding] = []
    for path in sorted(glob.glob(os.path.join(env.LOG_DIR, f"run-{env.RUN_ID}-*.log"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                findings += pii_scan.find(line, f"{os.path.basename(path)}:{n}: {line[:160].strip()}")

    async def bodies() -> list[str]:
        conn = await asyncpg.connect(env.DATABASE_URL)
        try:
            return [r["body"] for r in await conn.fetch(
                "SELECT payload::text AS body FROM webhook_deliveries UNION ALL"
                " SELECT payload::text FROM outbox WHERE kind = 'webhook'")]
        finally:
            await conn.close()

    for body in asyncio.run(bodies()):
        findings += pii_scan.find(body, "webhook body: " + body[:160])
    wechat.AUDIT["pii"] = [f"{f.kind} {f.masked} in {f.where}" for f in findings]
    wechat.AUDIT["pii_scanned"] = True
    for path in glob.glob(os.path.join(env.LOG_DIR, f"run-{env.RUN_ID}-*.log")):
        os.remove(path)


def _audit_stored_messages() -> None:
    """Every message any producer stored in this run is sent to a fresh strict fake WeChat before the
    database goes; a refusal fails the run (tests/conftest.py reads AUDIT)."""
    from tests.support import wechat

    wechat.AUDIT["stored_refused"] = wechat.replay_stored_messages(env.DATABASE_URL, ROOT / ".pytest_fake_wechat_audit.log")
