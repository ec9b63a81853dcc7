"""Migrations: forwards, backwards and forwards again on a scratch database, through the CLI."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from tests.support import env
from tests.support.services import _admin_exec, run_cli

ROOT = Path(__file__).resolve().parents[2]


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


def test_forwards_backwards_forwards():
    name = f"zhijian_mig_{uuid.uuid4().hex[:8]}"
    url = env.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_admin_exec(f'CREATE DATABASE "{name}"'))
    try:
        run_cli("migrate", database_url=url)
        tables = asyncio.run(_tables(url))
        assert {"districts", "stations", "enterprises", "users", "refresh_tokens", "api_keys", "projects"} <= tables
        run_cli("seed-demo", database_url=url)
        run_cli("seed-demo", database_url=url)  # idempotent
        back = run_cli("rollback", database_url=url, check=False)
        # Backwards must refuse nothing on an empty schema; with demo rows present the drops still succeed.
        assert back.returncode == 0, back.stdout + back.stderr
        assert asyncio.run(_tables(url)) <= {"migration"}
        run_cli("migrate", database_url=url)
        assert {"districts", "projects"} <= asyncio.run(_tables(url))
        again = run_cli("migrate", database_url=url)
        assert again.returncode == 0
    finally:
        asyncio.run(_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_migration_file_names_are_unique():
    """Piccolo imports migrations by bare file name: two equal names would load the wrong one."""
    names = [p.name for p in (ROOT / "migrations").glob("*/*.py") if p.name != "__init__.py"]
    assert names and len(names) == len(set(names))
    for path in (ROOT / "migrations").glob("*/*.py"):
        if path.name != "__init__.py":
            assert path.name.startswith(path.parent.name + "_"), path
