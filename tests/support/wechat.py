"""The fake WeChat server (scripts/fake_wechat.py) as a real subprocess on loopback, and a helper to steer it.

Synchronous (httpx.Client), so sync and async tests alike can call it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import env

ROOT = Path(__file__).resolve().parents[2]
LOG_PATH = ROOT / ".pytest_fake_wechat.log"


class FakeWeChat:
    """Steer and inspect the fake through its /__fake__ control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=10)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self._http.post(path, json=body)
        resp.raise_for_status()
        answer = resp.json()
        if isinstance(answer, dict) and answer.get("errcode"):
            raise ValueError(f"fake WeChat refused {path}: {answer}")
        return answer

    def reset(self, tokens: bool = False) -> None:
        """Forget used codes, recorded calls, messages, stats, queued errors and delays.

        The current access token stays valid (clients keep it cached in Redis) unless ``tokens``.
        """
        self._post("/__fake__/reset", {"tokens": tokens})

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """Make the next ``times`` calls to ``path`` (e.g. "/sns/jscode2session") answer ``errcode``."""
        self._post("/__fake__/errors", {"path": path, "errcode": errcode, "times": times})

    def expire_token(self) -> None:
        """The current access token now answers 42001."""
        self._post("/__fake__/expire_token")

    def delay(self, path: str, ms: float) -> None:
        """Answer ``path`` after ``ms`` milliseconds (0 clears the delay)."""
        self._post("/__fake__/delay", {"path": path, "ms": ms})

    def accept(self, openid: str, template_ids: list[str] | str, times: int = 1, kind: str = "one_time") -> None:
        """The user taps "allow" in wx.requestSubscribeMessage ``times`` times: WeChat learns of each acceptance."""
        ids = [template_ids] if isinstance(template_ids, str) else template_ids
        for _ in range(times):
            self._post("/__fake__/subscribe", {"openid": openid, "kind": kind, "results": {t: "accept" for t in ids}})

    def tap(self, openid: str, results: dict[str, str], kind: str = "one_time") -> None:
        """One wx.requestSubscribeMessage answer as WeChat sees it: {template_id: accept | reject | ban}."""
        self._post("/__fake__/subscribe", {"openid": openid, "kind": kind, "results": results})

    def expect_refusal(self, errcode: int, times: int = 1) -> None:
        """The test means to provoke ``times`` refusals with ``errcode``: the session-end audit allows them."""
        self._post("/__fake__/expect", {"errcode": errcode, "times": times})

    def refusals(self) -> list[dict[str, Any]]:
        """Every refusal of a send or a content check since the fake started, each with ``asked``."""
        resp = self._http.get("/__fake__/refusals")
        resp.raise_for_status()
        return resp.json()

    def omit_msgid(self, omit: bool = True) -> None:
        """Answer successful sends with the documented ``{"errcode": 0, "errmsg": "ok"}`` (no msgid)."""
        self._post("/__fake__/msgid", {"omit": omit})

    def configure_push(self, url: str | None, token: str = "", aes_key: str | None = None, sent_events: bool = False) -> None:
        """The console's message-push settings (safe mode when ``aes_key``); ``url=None`` stops pushing."""
        self._post("/__fake__/push", {"url": url, "token": token, "aes_key": aes_key, "sent_events": sent_events})

    def verdicts(self, markers: dict[str, str]) -> None:
        """A text or media URL containing a marker gets that content-security verdict (pass/review/risky)."""
        self._post("/__fake__/verdicts", markers)

    def pushed(self) -> list[dict[str, Any]]:
        """Events the fake pushed (or tried to) to the message-push URL, with the HTTP status."""
        resp = self._http.get("/__fake__/pushed")
        resp.raise_for_status()
        return resp.json()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls (method, path, query, json, time), oldest first."""
        resp = self._http.get("/__fake__/requests", params={"path": path} if path else None)
        resp.raise_for_status()
        return resp.json()

    def messages(self) -> list[dict[str, Any]]:
        """Accepted subscribe messages, each with its msgid."""
        resp = self._http.get("/__fake__/messages")
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, int]:
        """``token_fetches``, ``messages`` and one call count per API path."""
        resp = self._http.get("/__fake__/stats")
        resp.raise_for_status()
        return resp.json()

    def close(self) -> None:
        self._http.close()


def _log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


@contextmanager
def running_fake_wechat(port: int, log_path: Path = LOG_PATH) -> Iterator[FakeWeChat]:
    """Start scripts/fake_wechat.py as a subprocess on 127.0.0.1:port, wait until it answers, stop it after."""
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "fake_wechat.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    fake = FakeWeChat(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                fake.stats()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake WeChat server did not start:\n{_log_tail(log_path)}") from None
                time.sleep(0.05)
        yield fake
    finally:
        fake.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


#: filled when the session's fake stops; tests/conftest.py fails the run on any unasked refusal
AUDIT: dict[str, list[dict[str, Any]]] = {}


def unasked_refusals(fake: FakeWeChat) -> list[dict[str, Any]]:
    """Refusals no test asked for (by queuing the error or announcing it with expect_refusal)."""
    return [r for r in fake.refusals() if not r["asked"]]


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChat]:
    """The fake on env.WECHAT_PORT (the port ZHIJIAN_WECHAT_API_BASE_URL names), for the whole run.

    Shared with the app under test: a test that fetches tokens of its own (and so invalidates the
    app's cached one) should start a private fake with ``running_fake_wechat(free_port())``.
    At the end of the run, any send or content check the strict fake refused without a test asking
    for it fails the run (see tests/conftest.py).
    """
    with running_fake_wechat(env.WECHAT_PORT) as fake:
        yield fake
        AUDIT["unasked"] = unasked_refusals(fake)


@pytest.fixture
def wechat_reset(fake_wechat: FakeWeChat) -> FakeWeChat:
    """The fake, reset before the test."""
    fake_wechat.reset()
    return fake_wechat


AUDIT_OPENID = "o_message_audit"


async def _stored_messages(database_url: str) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        # A message whose text the retention job cleared (issue 23, rule `inbox`: body '' and data {}) is no
        # longer a producer's output: it is left out.
        rows = await conn.fetch("SELECT DISTINCT template, page, data::text AS data FROM notifications"
                                " WHERE NOT (body = '' AND data = '{}'::jsonb)")
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def replay_stored_messages(database_url: str, log_path: Path) -> list[dict[str, Any]]:
    """Send every distinct message the run stored (each producer's real output) to a fresh strict fake.

    The audit user has accepted every template long-term, so only the message itself can be refused:
    its template's keywords, each value's type (47003 naming the key), the page (41030). Returns the
    refusals, each with the message that caused it.
    """
    import asyncio

    from backend.notifications.templates import get_template, wechat_template_id
    from backend.settings import get_settings

    settings = get_settings()
    stored = asyncio.run(_stored_messages(database_url))
    AUDIT["replayed"] = [{"template": k, "messages": sum(1 for r in stored if r["template"] == k)}
                         for k in sorted({r["template"] for r in stored})]
    if not stored:
        return []
    refused: list[dict[str, Any]] = []
    with running_fake_wechat(env.free_port(), log_path) as fake:
        fake.tap(AUDIT_OPENID, {wechat_template_id(settings, get_template(k)): "accept" for k in _template_keys()},
                 kind="long_term")
        http = fake._http
        token = http.get("/cgi-bin/token", params={"grant_type": "client_credential", "appid": settings.WECHAT_APPID,
                                                   "secret": settings.WECHAT_SECRET}).json()["access_token"]
        for row in stored:
            body = {"touser": AUDIT_OPENID, "template_id": wechat_template_id(settings, get_template(row["template"])),
                    "data": json.loads(row["data"]), "miniprogram_state": "formal", "lang": "zh_CN"}
            if row["page"]:
                body["page"] = row["page"]
            answer = http.post("/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body).json()
            if answer.get("errcode"):
                refused.append({**answer, "template": row["template"], "message": body})
    return refused


def _template_keys() -> list[str]:
    from backend.notifications.templates import TEMPLATES

    return list(TEMPLATES)
