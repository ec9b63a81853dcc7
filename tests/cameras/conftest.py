"""The vision worker as a real process (python -m vision.worker) with the test model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cameras.scene import Model, test_model

ROOT = Path(__file__).resolve().parents[2]


class VisionWorkerProcess:
    def __init__(self, model: Model, extra_env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "ZHIJIAN_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
               "ZHIJIAN_VISION_MODEL_PATH": str(model.path), "ZHIJIAN_VISION_TICK_S": "0.2",
               "ZHIJIAN_VISION_THREADS": "1", **(extra_env or {})}
        self.log_path = ROOT / f".pytest_worker_vision_{os.getpid()}_{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "vision.worker"], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def peak_rss_mb(self) -> float:
        """VmHWM of the running worker process (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmHWM")

    def wait_started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "vision_worker_started" in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"vision worker exited:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"vision worker did not start:\n{self.log()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.log_path.unlink(missing_ok=True)
        return self.proc.returncode


@pytest.fixture(scope="session", params=["shipped", "oracle"] if not os.environ.get("ZHIJIAN_TEST_VISION_MODEL") else [None])
def vision_model(request, tmp_path_factory) -> Model:
    """Each camera test runs twice: with the shipped weights (what a site gets) and with the oracle graph
    (exact boxes, so the runtime's own arithmetic is checked exactly); or once with the model chosen."""
    return test_model(tmp_path_factory.mktemp("vision-model"), request.param)


@pytest.fixture(scope="module")
def vision_worker(database, s3_server, redis_db, fake_wechat, app, vision_model):
    """One vision worker per module (started after the API, so the buckets exist), stopped before other
    modules run: its heartbeat must not stand in for another worker's in tests/system."""
    worker = VisionWorkerProcess(vision_model)
    try:
        worker.wait_started()
        yield worker
    finally:
        code = worker.stop()
        assert code == 0, f"vision worker exit status {code}"

