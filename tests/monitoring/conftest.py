"""Fixtures for the monitoring tests: iot worker processes (stopped at teardown, pass or fail)."""

from __future__ import annotations

import uuid

import pytest

from tests.monitoring.helpers import IotWorkerProcess, Publisher, end_session

# One stable client id per run: a worker's persistent session stays in the shared subscription after it
# stops (that is what makes a restart lose nothing), so a second id would hoard messages meant for us.
CLIENT_ID = f"zhijian-test-iot-{uuid.uuid4().hex[:8]}"
# Short-lived sessions, so this run leaves nothing queued in the shared broker for long.
SESSION_ENV = {"ZHIJIAN_MQTT_SESSION_EXPIRY_S": "300"}


@pytest.fixture
def start_iot(database, redis_db, fake_wechat):  # noqa: ANN001 - fixtures
    started: list[IotWorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None, client_id: str | None = None) -> IotWorkerProcess:
        worker = IotWorkerProcess(client_id or CLIENT_ID, {**SESSION_ENV, **(extra_env or {})})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        print(worker.log()[-4000:])  # shown only when the test failed
        worker.log_path.unlink(missing_ok=True)
        if worker.client_id != CLIENT_ID:  # an extra worker's session would hoard the next tests' messages
            end_session(worker.client_id)


@pytest.fixture
def publisher():
    pub = Publisher()
    yield pub
    pub.close()


@pytest.fixture(scope="package", autouse=True)
def _end_worker_session():
    """After the monitoring tests, end the workers' persistent session, so it takes no share of later tests'."""
    yield
    end_session(CLIENT_ID)
