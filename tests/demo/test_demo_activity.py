"""`python -m backend.cli demo-activity` against a live uvicorn and a running iot worker: the console's figures
come alive, and a second run adds nothing.

As in scripts/run.sh, the broker is the dev config (no anonymous clients, logins in the dynamic-security
plugin): the API provisions each new sensor's login live, and the demo publishes with the one it was given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.complaints.tables import Complaint
from backend.materials.tables import LabReport
from backend.monitoring.tables import Alarm
from backend.outbox.tables import OutboxMessage
from iot.credentials import provision_live
from tests.credit.test_console import live_server  # noqa: F401 - the fixture
from tests.monitoring.conftest import CLIENT_ID, SESSION_ENV
from tests.monitoring.helpers import IotWorkerProcess
from tests.support.broker import HAVE_DYNSEC, private_broker
from tests.support.workers import eventually

pytestmark = [pytest.mark.asyncio,
              pytest.mark.skipif(not HAVE_DYNSEC, reason="mosquitto with its dynamic-security plugin is not installed")]
ROOT = Path(__file__).resolve().parents[2]
WORKER_PASSWORD = "demo-test-worker-secret"


def _demo(url: str, port: int) -> subprocess.CompletedProcess:
    # as scripts/run.sh calls it: each sensor publishes with the login the API provisioned for it
    env = {**os.environ, "ZHIJIAN_MQTT_URL": f"mqtt://127.0.0.1:{port}"}  # the broker, no login of its own
    return subprocess.run([sys.executable, "-m", "backend.cli", "demo-activity", "--api", url, "--device-logins"],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def dev_broker(database):
    """run.sh's broker config with the dynamic-security plugin; the worker's login provisioned live."""
    with private_broker("dev") as broker:
        provision_live(broker.admin_url, [], "zhijian-iot", WORKER_PASSWORD)
        yield broker


@pytest.fixture
def dynsec_api(request, monkeypatch, dev_broker):
    """The API as a server (live_server) that provisions sensors' logins in this broker, as under run.sh."""
    monkeypatch.setenv("ZHIJIAN_MQTT_DYNSEC_URL", dev_broker.admin_url)
    return request.getfixturevalue("live_server")


@pytest.fixture
def iot_worker(database, redis_db, fake_wechat, dev_broker):
    url = f"mqtt://zhijian-iot:{WORKER_PASSWORD}@127.0.0.1:{dev_broker.port}"
    worker = IotWorkerProcess(CLIENT_ID, {**SESSION_ENV, "ZHIJIAN_MQTT_URL": url})
    yield worker
    worker.stop()
    print(worker.log()[-4000:])
    worker.log_path.unlink(missing_ok=True)


async def _alarms(status: str) -> int:
    return await Alarm.count().where(Alarm.status == status)


async def _wechat_settled() -> bool:
    """Nothing of the outbox's WeChat work is still due (pending and available now)."""
    rows = await OutboxMessage.raw("SELECT count(*) AS n FROM outbox WHERE kind = 'wechat' AND status = 'pending'"
                                   " AND available_at <= now()")
    return rows[0]["n"] == 0


async def test_demo_activity_fills_the_console_once(api, admin, dynsec_api, iot_worker, dev_broker, fake_wechat,
                                                    start_worker):
    start_worker()  # the ARQ worker: the demo's pushes are delivered to the (strict) fake WeChat
    refused_before = len(fake_wechat.refusals())
    sent_before = len(fake_wechat.messages())
    # The suite shares one database per run: compare with what was there before.
    before = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    alarms_before = (await _alarms("active_unacknowledged"), await _alarms("acknowledged"))

    first = _demo(dynsec_api, dev_broker.port)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "published over MQTT (each sensor with the login the API provisioned for it)" in first.stdout
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
    assert "back pay" in first.stdout and "→ 1 quality hold on 温州安居劳务" in first.stdout, first.stdout
    lines = first.stdout.split("payroll ")[1].split("\n")[0]
    assert "1 back pay" in lines, lines  # last month's late clock, accepted after payment (demo_workforce)
    listed = {(r["list"], r["name"]) for r in f["credit"]["listed"]}
    assert ("black", "温州东海劳务分包有限公司") in listed and ("red", "温州城建开发有限公司") in listed
    counts = (await Complaint.count(), await LabReport.count(), await Alarm.count())

    # Issue 20: inspection requests, one answered (with its document), one pending on its answer deadline.
    assert "inspection requests: 1 answered (passed, 1 document), 1 pending" in first.stdout, first.stdout
    # Issue 16: the demo users reported their acceptances, so the demo's pushes really went out through the
    # fake WeChat — and the strict fake refused none of them.
    assert "WeChat acceptances:" in first.stdout, first.stdout

    async def delivered():
        return await _wechat_settled() and len(fake_wechat.messages()) > sent_before

    assert await eventually(delivered, timeout=60)
    sent = fake_wechat.messages()[sent_before:]
    told = {m["touser"] for m in sent}
    assert {"demo-lead", "demo-supervisor", "demo-citizen"} <= told, told
    assert fake_wechat.refusals()[refused_before:] == []

    second = _demo(dynsec_api, dev_broker.port)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "demo-activity: made" not in second.stdout and "0 things made" in second.stdout, second.stdout
    assert (await Complaint.count(), await LabReport.count(), await Alarm.count()) == counts
    again = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    assert again["credit"]["lists"] == f["credit"]["lists"] and again["materials"] == f["materials"]
    assert await eventually(_wechat_settled, timeout=30)
    assert fake_wechat.refusals()[refused_before:] == []  # nothing refused, the second run included
