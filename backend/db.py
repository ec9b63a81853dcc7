"""Database lifecycle helpers shared by the API and the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

from backend.settings import Settings


def engine() -> PostgresEngine:
    found = engine_finder()
    if not isinstance(found, PostgresEngine):
        raise RuntimeError("piccolo_conf.DB must be a PostgresEngine")
    return found


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does first (roll back an open
    transaction, drop listeners).

    asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release, and Piccolo acquires and releases a connection per query: one extra round trip for
    every statement the system runs. None of that state exists on our pooled connections: advisory locks
    are transaction-scoped (``pg_advisory_xact_lock``), settings are ``SET LOCAL``, LISTEN runs on the
    outbox's own connection, no cursor is held past its transaction. tests/test_db_session.py keeps it so.
    """


async def open_pool(settings: Settings) -> None:
    """Start the asyncpg pool behind Piccolo (min_size is required with max_size)."""
    await engine().start_connection_pool(min_size=settings.DB_POOL_MIN, max_size=settings.DB_POOL_MAX,
                                         reset=_keep_session)


async def close_pool() -> None:
    await engine().close_connection_pool()


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for a hot path's few statements, outside any transaction (each statement is atomic).

    Piccolo acquires and releases a pool connection per query; a hot path that runs two statements saves the
    second acquisition by holding one connection for both.
    """
    eng = engine()
    if eng.pool is None:
        conn = await eng.get_new_connection()
        try:
            yield conn
        finally:
            await conn.close()
    else:
        async with eng.pool.acquire() as conn:
            yield conn


async def ping() -> None:
    await engine().run_ddl("SELECT 1")


def utcnow() -> datetime:
    """The system clock, timezone-aware UTC (inject a clock where a rule depends on now)."""
    return datetime.now(UTC)
