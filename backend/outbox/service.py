"""Writing to the outbox: call inside the transaction that makes the change (rows become visible with its commit).

``pg_notify`` is transactional too: the dispatchers listening on ``zhijian_outbox`` wake when the
caller commits, never before, and hear nothing if it rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from backend.outbox.tables import OutboxMessage

CHANNEL = "zhijian_outbox"
KINDS = frozenset({"wechat", "webhook", "task"})


async def enqueue(kind: str, refs: Sequence[UUID], *, available_at: datetime | None = None) -> int:
    """One outbox row per receipt id of ``kind`` (wechat | webhook), in the caller's transaction."""
    if kind not in KINDS - {"task"}:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if not refs:
        return 0
    await OutboxMessage.raw(
        "INSERT INTO outbox (id, kind, ref, payload, status, attempts, available_at, created_at)"
        " SELECT gen_random_uuid(), {}, r, jsonb_build_object(), 'pending', 0, COALESCE({}, now()), now()"
        " FROM unnest({}::uuid[]) AS r",
        kind, available_at, list(refs),
    )
    await OutboxMessage.raw("SELECT pg_notify({}, {})", CHANNEL, kind)
    return len(refs)


async def enqueue_task(name: str, args: Sequence[Any], *, available_at: datetime | None = None) -> None:
    """A job that must not be lost (run by a worker's task registry), in the caller's transaction."""
    await OutboxMessage.raw(
        "INSERT INTO outbox (id, kind, ref, payload, status, attempts, available_at, created_at)"
        " VALUES (gen_random_uuid(), 'task', NULL, {}::jsonb, 'pending', 0, COALESCE({}, now()), now())",
        json.dumps({"name": name, "args": list(args)}, ensure_ascii=False, default=str), available_at,
    )
    await OutboxMessage.raw("SELECT pg_notify({}, 'task')", CHANNEL)


async def pending_count() -> int:
    """Rows not yet delivered (for health checks, tests and the bench)."""
    rows = await OutboxMessage.raw("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")
    return rows[0]["n"]
