"""Fixtures for the monitoring tests: iot worker processes (stopped at teardown, pass or fail)."""

from __future__ import annotations

import uuid

import pytest

from tests.monitoring.helpers import IotWorkerProcess, Publisher


@pytest.fixture
def start_iot(database, redis_db, fake_wechat):  # noqa: ANN001 - fixtures
    started: list[IotWorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None, client_id: str | None = None) -> IotWorkerProcess:
        worker = IotWorkerProcess(client_id or f"zhijian-test-iot-{uuid.uuid4().hex[:8]}", extra_env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        worker.log_path.unlink(missing_ok=True)


@pytest.fixture
def publisher():
    pub = Publisher()
    yield pub
    pub.close()
