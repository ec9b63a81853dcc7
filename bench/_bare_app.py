"""Bare Litestar endpoints: the yardsticks the HTTP paths are compared with (same server, same client).

``/bare`` and ``/bare/ok`` do no I/O: what the framework and the server cost. ``/bare/commit`` adds what any
path that stores a record cannot avoid: one INSERT committed by PostgreSQL (one round trip, one WAL flush),
through an asyncpg pool, in the bench's scratch database (``ZHIJIAN_DATABASE_URL``). The gap between a path
and ``/bare`` is then split into what storing costs at least and what the path adds to it.
"""

import json
import os
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, post

_state: dict = {}


@post("/bare", status_code=201)
async def bare(data: dict) -> dict:
    return {"ok": True, "n": len(data)}


@post("/bare/ok", status_code=200)
async def bare_ok(data: dict) -> dict:
    return {"ok": True, "n": len(data)}


@post("/bare/commit", status_code=201)
async def bare_commit(data: dict) -> dict:
    async with _state["pool"].acquire() as conn:
        row_id = await conn.fetchval("INSERT INTO bench_bare_commit (body) VALUES ($1::jsonb) RETURNING id",
                                     json.dumps(data))
    return {"ok": True, "id": row_id}


@asynccontextmanager
async def lifespan(_app: Litestar):
    url = os.environ.get("ZHIJIAN_DATABASE_URL")
    if url:
        _state["pool"] = await asyncpg.create_pool(url, min_size=1, max_size=10)
        await _state["pool"].execute("CREATE TABLE IF NOT EXISTS bench_bare_commit"
                                     " (id bigserial PRIMARY KEY, body jsonb, at timestamptz DEFAULT now())")
    try:
        yield
    finally:
        if "pool" in _state:
            await _state.pop("pool").close()


app = Litestar(route_handlers=[bare, bare_ok, bare_commit], openapi_config=None, logging_config=None,
               lifespan=[lifespan])
