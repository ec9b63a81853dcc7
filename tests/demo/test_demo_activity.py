"""`python -m backend.cli demo-activity` against a live uvicorn and a running iot worker: the console's figures
come alive, and a second run adds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.complaints.tables import Complaint
from backend.materials.tables import LabReport
from backend.monitoring.tables import Alarm
from tests.credit.test_console import live_server  # noqa: F401 - the fixture
from tests.monitoring.conftest import CLIENT_ID, SESSION_ENV
from tests.monitoring.helpers import IotWorkerProcess

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]


def _demo(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", "demo-activity", "--api", url], cwd=ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def iot_worker(database, redis_db, fake_wechat):  # noqa: ANN001 - fixtures
    worker = IotWorkerProcess(CLIENT_ID, SESSION_ENV)
    yield worker
    worker.stop()
    print(worker.log()[-4000:])
    worker.log_path.unlink(missing_ok=True)


async def test_demo_activity_fills_the_console_once(api, admin, live_server, iot_worker):  # noqa: F811
    before = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    assert before["complaints"]["total"] == 0 and not before["alarms"]["open"]

    first = _demo(live_server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "demo-activity: made complaint" in first.stdout and "→ black list" in first.stdout

    f = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    assert f["complaints"]["total"] == 6 and f["complaints"]["overdue_open"] >= 1
    assert 0 < f["complaints"]["on_time_handling_rate"] < 1  # two on time, one late
    assert f["alarms"]["open"] >= 1
    assert f["materials"]["reports"] == 3 and f["materials"]["failed"] == 1
    lists = f["credit"]["lists"]
    assert lists["black_notice"] + lists["black_active"] >= 1 and lists["red_notice"] + lists["red_active"] >= 1
    statuses = {r["status"] for r in await Alarm.select(Alarm.status)}
    assert {"active_unacknowledged", "acknowledged"} <= statuses
    counts = (await Complaint.count(), await LabReport.count(), await Alarm.count())

    second = _demo(live_server)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "made" not in second.stdout.replace("0 things made", ""), second.stdout
    assert (await Complaint.count(), await LabReport.count(), await Alarm.count()) == counts
    again = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    assert again["credit"]["lists"] == lists and again["materials"] == f["materials"]
