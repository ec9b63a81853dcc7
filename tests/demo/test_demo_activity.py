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
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]


def _demo(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", "demo-activity", "--api", url], check=False,
                          cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def iot_worker(database, redis_db, fake_wechat):
    worker = IotWorkerProcess(CLIENT_ID, SESSION_ENV)
    yield worker
    worker.stop()
    print(worker.log()[-4000:])
    worker.log_path.unlink(missing_ok=True)


async def _alarms(status: str) -> int:
    return await Alarm.count().where(Alarm.status == status)


async def test_demo_activity_fills_the_console_once(api, admin, live_server, iot_worker):  # noqa: F811
    # The suite shares one database per run: compare with what was there before.
    before = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    alarms_before = (await _alarms("active_unacknowledged"), await _alarms("acknowledged"))

    first = _demo(live_server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "demo-activity: made complaint" in first.stdout and "→ black list" in first.stdout

    c0 = before["complaints"]

    async def overdue_counted():  # the demo's short-deadline complaint passes its deadline a few seconds on
        figures = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
        return figures if figures["complaints"]["overdue_open"] > c0["overdue_open"] else None

    f = await eventually(overdue_counted, timeout=30)
    assert f, "the overdue demo complaint is not counted"
    c = f["complaints"]
    assert c["total"] - c0["total"] == 6
    assert c["open"] - c0["open"] == 2  # the overdue one and the new one
    assert 0 < c["on_time_handling_rate"] < 1
    assert f["alarms"]["open"] >= 1
    assert (await _alarms("active_unacknowledged") - alarms_before[0], await _alarms("acknowledged") - alarms_before[1]) \
        == (1, 1)
    assert f["materials"]["reports"] - before["materials"]["reports"] == 3
    assert f["materials"]["failed"] - before["materials"]["failed"] == 1
    listed = {(r["list"], r["name"]) for r in f["credit"]["listed"]}
    assert ("black", "温州东海劳务分包有限公司") in listed and ("red", "温州城建开发有限公司") in listed
    counts = (await Complaint.count(), await LabReport.count(), await Alarm.count())

    second = _demo(live_server)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "demo-activity: made" not in second.stdout and "0 things made" in second.stdout, second.stdout
    assert (await Complaint.count(), await LabReport.count(), await Alarm.count()) == counts
    again = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    assert again["credit"]["lists"] == f["credit"]["lists"] and again["materials"] == f["materials"]
