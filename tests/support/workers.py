"""Start and stop the real ARQ worker as a process, with extra settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARQ = str(Path(sys.executable).parent / "arq")


class WorkerProcess:
    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "ZHIJIAN_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.log_path = ROOT / f".pytest_worker_{os.getpid()}_{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [ARQ, "workers.settings.WorkerSettings"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_started(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "arq_worker_started" in self.log_path.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"worker did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.log_path.unlink(missing_ok=True)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: the worker dies without any cleanup, as on a crash."""
        self.proc.kill()
        self.proc.wait(5)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


async def eventually(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Await an async predicate until it returns something truthy; return that value."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


import pytest  # noqa: E402


@pytest.fixture
def start_worker(database, s3_server, redis_db, fake_wechat):  # noqa: ANN001 - fixtures
    """Factory for worker processes; every one still running is stopped at teardown, pass or fail."""
    started: list[WorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(extra_env)
        started.append(worker)
        worker.wait_started()
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.stop()
