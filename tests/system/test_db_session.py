"""The pool releases connections without asyncpg's RESET round trip (backend/db.py ``_keep_session``).

That is only safe while no code leaves session state on a pooled connection; the first test keeps the
source free of session-scoped statements, the second shows what the release still guarantees (an open or
failed transaction is rolled back), the third that the saved round trip is really gone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION_STATE = [
    (re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.IGNORECASE), "session advisory lock (use pg_advisory_xact_lock)"),
    (re.compile(r"""["']\s*SET\s+(SESSION\s+)?(?!LOCAL\b)(?!TRANSACTION\b)[a-z_.]+\s*(=|TO\b)""", re.IGNORECASE),
     "session SET (use SET LOCAL inside the transaction)"),
    (re.compile(r"""["']\s*LISTEN\s""", re.IGNORECASE), "LISTEN on a pooled connection (use a connection of its own)"),
    (re.compile(r"WITH\s+HOLD", re.IGNORECASE), "cursor held past its transaction"),
    (re.compile(r"set_config\([^)]*,\s*false\s*\)", re.IGNORECASE), "session set_config"),
]


def test_no_code_leaves_session_state_on_a_pooled_connection():
    found = []
    for folder in ("backend", "workers", "iot", "vision", "miniprogram_api"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern, what in SESSION_STATE:
                for m in pattern.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "session state would outlive the query on a pooled connection:\n" + "\n".join(found)


def test_the_guard_sees_what_it_forbids():
    samples = ['"SELECT pg_advisory_lock(1)"', '"SET statement_timeout = 0"', '"LISTEN jobs"',
               '"DECLARE c CURSOR WITH HOLD FOR SELECT 1"', "\"SELECT set_config('a.b', '1', false)\""]
    for sample in samples:
        assert any(p.search(sample) for p, _ in SESSION_STATE), sample
    for allowed in ['"SELECT pg_advisory_xact_lock(1)"', '"SET LOCAL statement_timeout = 0"',
                    '"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"']:
        assert not any(p.search(allowed) for p, _ in SESSION_STATE), allowed


@pytest.mark.asyncio(loop_scope="session")
async def test_release_rolls_back_and_skips_the_reset_round_trip(app):
    from backend.db import engine

    pool = engine().pool
    assert pool is not None
    # asyncpg's pool hands back the connection released last (a LIFO queue): the same backend each time.
    # A transaction left open by a caller is rolled back when the connection goes back.
    conn = await pool.acquire()
    backend_pid = await conn.fetchval("SELECT pg_backend_pid()")
    await conn.execute("BEGIN")
    await conn.execute("CREATE TEMP TABLE db_session_probe (x int)")
    await pool.release(conn)
    c = await pool.acquire()
    try:
        assert await c.fetchval("SELECT pg_backend_pid()") == backend_pid
        assert not c.is_in_transaction()
        assert await c.fetchval("SELECT to_regclass('pg_temp.db_session_probe')") is None
        # No RESET ALL on release: a session setting made outside a transaction survives it (that round trip
        # is what each statement saves; the guard above keeps the code from making such settings).
        await c.execute("SELECT set_config('application_name', 'db_session_probe', false)")
    finally:
        await pool.release(c)
    c = await pool.acquire()
    try:
        assert await c.fetchval("SELECT pg_backend_pid()") == backend_pid
        assert await c.fetchval("SELECT current_setting('application_name')") == "db_session_probe"
    finally:
        await c.execute("RESET application_name")
        await pool.release(c)
