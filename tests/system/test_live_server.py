"""The API as deployed: uvicorn in its own process, over real HTTP, against the real services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.env import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_uvicorn_ready_and_mini_program_login(database, s3_server, redis_db, fake_wechat):
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "backend.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "ZHIJIAN_LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        assert all(c["status"] == "ok" for c in ready.json()["checks"].values())
        login = httpx.post(f"{base}/mp/v1/auth/login", json={"code": "demo-citizen-live:1"}, timeout=10)
        assert login.status_code == 200, login.text
        assert login.json()["user"]["role"] == "citizen"
        assert login.headers["x-request-id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    # uvicorn re-raises SIGTERM after a graceful shutdown (returncode -15) in recent versions.
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "api_stopped" in out
    # Structured JSON logs carry the request id.
    assert '"request_id"' in out and '"event": "request"' in out
