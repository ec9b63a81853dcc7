"""schemathesis over the whole OpenAPI document, against uvicorn on the real services: no input, whoever sends it,
makes a server error (5xx). A few generated cases per operation, as a city admin and anonymously."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase

from tests.support.api import ADMIN_PASSWORD
from tests.support.env import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 3


def test_no_operation_answers_a_server_error(database, s3_server, redis_db, fake_wechat):
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "backend.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        login = httpx.post(f"{base}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10)
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
        errors: list[str] = []
        operations = 0
        def check(operation):
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.generate], database=None,
                                 suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy())
            def call(case):
                for headers in (admin, {}):
                    resp = case.call(base_url=base, headers=headers, timeout=30)
                    if resp.status_code >= 500:
                        errors.append(f"{operation.method.upper()} {operation.path} → {resp.status_code} "
                                      f"{resp.text[:200]} ({case.path_parameters} {case.query} {str(case.body)[:200]})")

            call()

        for result in schema.get_all_operations():
            operations += 1
            check(result.ok())
        assert operations > 150
        assert not errors, "\n".join(errors[:30])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
