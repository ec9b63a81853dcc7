"""The iot worker fixtures of the monitoring tests, for the alarm gate (its session is ended after the package)."""

from __future__ import annotations

import pytest

from tests.monitoring.conftest import CLIENT_ID, publisher, start_iot  # noqa: F401 - fixtures
from tests.monitoring.helpers import end_session


@pytest.fixture(scope="package", autouse=True)
def _end_worker_session():
    yield
    end_session(CLIENT_ID)
