"""The fake WeChat server as a real subprocess on loopback, and a helper to steer it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import env

ROOT = Path(__file__).resolve().parents[2]


class FakeWeChat:
    """Steer and inspect scripts/fake_wechat.py through its /__fake__ control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=10)

    def reset(self) -> None:
        self._http.post("/__fake__/reset").raise_for_status()

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        self._http.post("/__fake__/errors", json={"path": path, "errcode": errcode, "times": times}).raise_for_status()

    def expire_token(self) -> None:
        self._http.post("/__fake__/expire_token").raise_for_status()

    def delay(self, path: str, ms: float) -> None:
        self._http.post("/__fake__/delay", json={"path": path, "ms": ms}).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        params = {"path": path} if path else None
        return self._http.get("/__fake__/requests", params=params).json()

    def messages(self) -> list[dict[str, Any]]:
        return self._http.get("/__fake__/messages").json()

    def stats(self) -> dict[str, int]:
        return self._http.get("/__fake__/stats").json()

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChat]:
    log = open(ROOT / ".pytest_fake_wechat.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "fake_wechat.py"), "--host", "127.0.0.1", "--port", str(env.WECHAT_PORT)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    fake = FakeWeChat(f"http://127.0.0.1:{env.WECHAT_PORT}")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                fake.stats()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("fake WeChat server did not start") from None
                time.sleep(0.1)
        yield fake
    finally:
        fake.close()
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def wechat_reset(fake_wechat: FakeWeChat) -> FakeWeChat:
    fake_wechat.reset()
    return fake_wechat
