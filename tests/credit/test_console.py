"""The regulators' console in headless Chromium against a live uvicorn: real numbers, and a screenshot."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from backend.materials.tables import LabReport
from tests.credit.helpers import enterprise, manual
from tests.support.api import staff_token
from tests.support.asserts import assert_error
from tests.support.env import free_port

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def _chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="zj-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def _tile(dom: str, key: str) -> str:
    match = re.search(rf'id="{key}">([^<]*)<', dom)
    assert match, f"tile {key} missing"
    return match.group(1)


@pytest.fixture
def live_server(database, s3_server, redis_db, fake_wechat):
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "backend.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("uvicorn did not become ready")
    yield base
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.skipif(CHROMIUM is None, reason="missing: chromium (Debian/Ubuntu: apt-get install chromium)")
async def test_dashboard_renders_real_numbers_in_chromium(api, admin, live_server, tmp_path):
    black = await enterprise(api, admin)
    assert (await manual(api, admin, black["id"], "serious_violation")).status_code == 201
    red = await enterprise(api, admin)
    assert (await manual(api, admin, red["id"], "manual_bonus", 5)).status_code == 201
    figures = (await api.get("/api/v1/credit/dashboard", headers=admin)).json()
    failed = await LabReport.count().where(LabReport.verdict == "fail")
    assert figures["materials"]["failed"] == failed
    lists = figures["credit"]["lists"]
    assert lists["black_notice"] >= 1 and lists["red_notice"] >= 1

    ticket = (await api.post("/api/v1/credit/console-ticket", headers=admin)).json()
    dom = await _chromium("--dump-dom", f"{live_server}{ticket['url']}")
    assert "质监监管驾驶舱" in dom
    assert _tile(dom, "materials-failed") == str(failed)
    assert _tile(dom, "complaints-total") == str(figures["complaints"]["total"])
    rate = figures["complaints"]["on_time_handling_rate"]
    assert _tile(dom, "complaints-on-time") == ("—" if rate is None else f"{rate * 100:.1f}%")
    assert _tile(dom, "complaints-overdue") == str(figures["complaints"]["overdue_open"])
    assert _tile(dom, "alarms-open") == str(figures["alarms"]["open"] or 0)
    assert _tile(dom, "black-count") == str(lists["black_notice"] + lists["black_active"] + lists["black_appealed"])
    assert _tile(dom, "red-count") == str(lists["red_notice"] + lists["red_active"] + lists["red_appealed"])
    assert black["name"] in dom and black["uscc"] in dom and red["name"] in dom
    assert dom.count("<svg") == 2 and 'id="chart-bands"' in dom

    # The ticket was used once: a second load is refused, without showing any figure.
    async with httpx.AsyncClient() as http:
        again = await http.get(f"{live_server}{ticket['url']}")
        assert assert_error(again, 401, "AUTH_REQUIRED")["detail"]["reason"].startswith("console ticket")
        assert_error(await http.get(f"{live_server}/console/dashboard"), 401, "AUTH_REQUIRED")

    shot = tmp_path / "dashboard.png"
    ticket = (await api.post("/api/v1/credit/console-ticket", headers=admin)).json()
    await _chromium(f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars", f"{live_server}{ticket['url']}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (900, 1280)
    assert float(image.std()) > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # not blank
    # Red bars of the black list and green of the red list are drawn (BGR).
    assert np.any(np.all(np.abs(image.astype(int) - (0x28, 0x28, 0xC6)) < 8, axis=2))
    if os.environ.get("ZHIJIAN_UPDATE_SCREENSHOT"):
        shutil.copy(shot, ROOT / "docs" / "dashboard.png")


async def test_console_is_staff_only(api, admin):
    user_pair_headers = await staff_token(api, "lead_wang")
    assert_error(await api.post("/api/v1/credit/console-ticket", headers=user_pair_headers), 403, "FORBIDDEN_ROLE")
    assert_error(await api.get("/api/v1/credit/dashboard", headers=user_pair_headers), 403, "FORBIDDEN_ROLE")
    insp = await staff_token(api, "lc_inspector")
    assert (await api.get("/api/v1/credit/dashboard", headers=insp)).status_code == 200
