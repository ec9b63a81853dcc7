"""Whether a user's access tokens still hold: the token version, cached per process, dropped by PostgreSQL.

An access token carries the user's ``token_version``; disabling, a password reset, a role change or closing
the account raises it (or clears ``is_active``), and every token issued before stops at the next request.
Reading the version from PostgreSQL on every request would cost a query per request, so each API process
keeps a copy per user. The copy is dropped at once when the row changes: a trigger on ``users``
(migrations/access, 2026-12-04T10:40) sends ``NOTIFY token_versions, '<user id>'`` at commit, whoever made the
change (the API, piccolo-admin, raw SQL in psql), and :func:`listen` receives it on a connection of its own.
While that connection is down a copy is trusted for ``TOKEN_VERSION_CACHE_S`` only (2 s); while it is up,
for ``TOKEN_VERSION_LISTEN_CACHE_S`` (a bound in case a notification were ever lost).
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import asyncpg
import structlog

from backend.accounts.tables import User
from backend.settings import Settings

log = structlog.get_logger(__name__)
CHANNEL = "token_versions"
APPLICATION_NAME = "zhijian-token-versions"  # how the listening connection shows in pg_stat_activity

# user id → (token version, or -1 when disabled or gone; monotonic time read)
_VERSIONS: dict[UUID, tuple[int, float]] = {}
_state = {"listening": False, "epoch": 0}  # epoch: notifications received (a read older than one is not kept)


def forget(user_id: UUID | None = None) -> None:
    """Drop this process's copy of one user's version (all users when None)."""
    _state["epoch"] += 1
    if user_id is None:
        _VERSIONS.clear()
    else:
        _VERSIONS.pop(user_id, None)


def listening() -> bool:
    return bool(_state["listening"])


def trust_s(settings: Settings) -> float:
    """How long a cached copy is trusted now."""
    return settings.TOKEN_VERSION_LISTEN_CACHE_S if _state["listening"] else settings.TOKEN_VERSION_CACHE_S


async def current_token_version(user_id: UUID, cache_s: float, presented: int | None = None) -> int:
    """The user's token version now (-1 for a disabled or deleted account), cached for ``cache_s`` seconds.

    A token newer than the cached copy (issued after a change) makes it read the database again.
    """
    now = time.monotonic()
    hit = _VERSIONS.get(user_id)
    if hit is not None and now - hit[1] < cache_s and (presented is None or presented <= hit[0]):
        return hit[0]
    epoch = _state["epoch"]
    row = await User.select(User.token_version, User.is_active).where(User.id == user_id).first()
    version = -1 if row is None or not row["is_active"] else row["token_version"]
    if epoch == _state["epoch"]:  # no notification arrived while reading: the copy is not older than one
        if len(_VERSIONS) > 50_000:
            _VERSIONS.clear()
        _VERSIONS[user_id] = (version, now)
    return version


def _on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
    try:
        forget(UUID(payload))
    except ValueError:
        forget()


async def listen(settings: Settings, keepalive_s: float = 10.0) -> None:
    """Hold a LISTEN connection for the process's lifetime, reconnecting after a loss (run as a task)."""
    backoff = 1.0
    while True:
        conn = None
        lost = asyncio.Event()
        try:
            conn = await asyncpg.connect(settings.DATABASE_URL, server_settings={"application_name": APPLICATION_NAME})
            conn.add_termination_listener(lambda _c, ev=lost: ev.set())
            await conn.add_listener(CHANNEL, _on_notify)
            forget()  # what was cached before listening may have missed a change
            _state["listening"] = True
            backoff = 1.0
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), keepalive_s)
                except TimeoutError:
                    await conn.execute("SELECT 1")  # a silent network loss shows here
            log.warning("token_version_listen_lost", error="connection closed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the short trust applies until listening again
            log.warning("token_version_listen_lost", error=str(exc))
        finally:
            _state["listening"] = False
            if conn is not None:
                conn.terminate()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 30.0)
