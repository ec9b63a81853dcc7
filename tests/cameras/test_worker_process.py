"""The vision worker process without a model: it says so, keeps running (heartbeat) and stops cleanly."""

from __future__ import annotations

import time

from tests.cameras.conftest import VisionWorkerProcess
from tests.cameras.scene import Model


def test_worker_without_a_model_keeps_running_and_stops_cleanly(database, s3_server, redis_db, fake_wechat, app,
                                                                tmp_path):
    worker = VisionWorkerProcess(Model(tmp_path / "absent.onnx", False))
    try:
        worker.wait_started()
        assert "vision_model_missing" in worker.log()
        assert '"ready": false' in worker.log() or "ready=False" in worker.log(), worker.log()
        time.sleep(1.0)
        assert worker.proc.poll() is None, worker.log()
    finally:
        assert worker.stop() == 0
