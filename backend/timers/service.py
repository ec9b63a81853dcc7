"""The durable timer service: ``schedule`` / ``cancel`` in the caller's transaction, handlers by kind, one reconciler.

Every "at time T do X" is a row in ``timers`` (the truth). A timer due within ``TIMER_HORIZON_S`` gets
an ARQ job deferred to its time (the fast path; armed after the commit through an outbox task, or by
the reconciler once it comes within the horizon). Firing locks the row, runs the kind's handler and
marks the row fired in one transaction: what the handler writes (pushes are outbox rows) exists if
and only if the timer fired, and it fires once. A stale or early job does nothing. The reconciler
fires rows whose time has passed (a job Redis lost) and re-creates the jobs of rows in the horizon.

    await timers.schedule("escalation", f"{chain}:{step}", due_at, {"escalation": str(chain), "step": step})
    await timers.cancel("escalation", prefix=f"{chain}:")
    timers.register("escalation", handler)  # handler(ctx, timer) inside the firing transaction
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from arq.connections import ArqRedis

from backend.clients.redis import bulk_enqueue
from backend.db import utcnow
from backend.outbox import service as outbox
from backend.timers.tables import DueTimer

log = structlog.get_logger("zhijian.timers")

FIRE_JOB = "timer_fire"
ARM_TASK = "timer_arm"
HORIZON = timedelta(hours=1)  # timers due sooner get their ARQ job now; later ones when the reconciler nears them


@dataclass(frozen=True, slots=True)
class Timer:
    id: UUID
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    version: int


Handler = Callable[[dict[str, Any], Timer], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """What firing a timer of ``kind`` does (called inside the firing transaction; may notify, schedule, ...)."""
    HANDLERS[kind] = handler


def job_id(timer_id: UUID | str, version: int) -> str:
    return f"timer:{timer_id}:{version}"


async def schedule(kind: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None) -> bool:
    """Create or move the timer (kind, key), in the caller's transaction; a timer that fired stays fired.

    Returns whether it is (now) scheduled. Its deferred job is armed after the commit.
    """
    rows = await DueTimer.raw(
        "INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
        " VALUES (gen_random_uuid(), {}, {}, {}, {}::jsonb, 'scheduled', 1, now(), now())"
        " ON CONFLICT (kind, key) DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,"
        " status = 'scheduled', version = timers.version + 1, updated_at = now()"
        " WHERE timers.status <> 'fired' RETURNING id, version",
        kind, key, due_at, json.dumps(payload or {}, ensure_ascii=False, default=str),
    )
    if not rows:
        return False
    if due_at < utcnow() + HORIZON:
        await outbox.enqueue_task(ARM_TASK, [str(rows[0]["id"]), rows[0]["version"], due_at.timestamp()])
    return True


async def schedule_many(kind: str, items: list[tuple[str, datetime, dict[str, Any]]]) -> int:
    """``schedule`` for several (key, due_at, payload) of one kind: one statement, one arming task."""
    if not items:
        return 0
    rows = await DueTimer.raw(
        "INSERT INTO timers (id, kind, key, due_at, payload, status, version, created_at, updated_at)"
        " SELECT gen_random_uuid(), {}, k, d, p::jsonb, 'scheduled', 1, now(), now()"
        " FROM unnest({}::text[], {}::timestamptz[], {}::text[]) AS t(k, d, p)"
        " ON CONFLICT (kind, key) DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,"
        " status = 'scheduled', version = timers.version + 1, updated_at = now()"
        " WHERE timers.status <> 'fired' RETURNING id, version, due_at",
        kind, [k for k, _, _ in items], [d for _, d, _ in items],
        [json.dumps(p, ensure_ascii=False, default=str) for _, _, p in items],
    )
    soon = [r for r in rows if r["due_at"] < utcnow() + HORIZON]
    if soon:
        # one argument, the list of triples (a bare list of one triple would read as a triple's three arguments)
        await outbox.enqueue_task(ARM_TASK, [[[str(r["id"]), r["version"], r["due_at"].timestamp()] for r in soon]])
    return len(rows)


async def cancel(kind: str, key: str | None = None, *, prefix: str | None = None) -> int:
    """Cancel the scheduled timer (kind, key), or every one whose key starts with ``prefix``; fired ones stay."""
    if (key is None) == (prefix is None):
        raise ValueError("cancel needs exactly one of key or prefix")
    where = "key = {}" if key is not None else "starts_with(key, {})"
    rows = await DueTimer.raw(
        f"UPDATE timers SET status = 'cancelled', updated_at = now() WHERE kind = {{}} AND {where}"
        " AND status = 'scheduled' RETURNING id",
        kind, key if key is not None else prefix,
    )
    return len(rows)


async def arm(ctx: dict[str, Any], *args: Any) -> None:
    """Outbox task after a schedule's commit: the deferred ARQ jobs (a stale version simply does nothing).

    Args: ``timer_id, version, due_ts`` for one timer, or one list of such triples.
    """
    triples = args[0] if len(args) == 1 else [args]
    await bulk_enqueue(ctx["redis"], [(job_id(t, v), FIRE_JOB, (t, v), ts) for t, v, ts in triples])


def _timer(row: dict[str, Any]) -> Timer:
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"] or "{}")
    return Timer(row["id"], row["kind"], row["key"], row["due_at"], payload, row["version"])


async def fire(ctx: dict[str, Any], timer_id: UUID | str, version: int | None = None) -> str:
    """Fire one timer once: lock, check, run its handler, mark fired — one transaction. Idempotent."""
    now = utcnow()
    async with DueTimer._meta.db.transaction():
        rows = await DueTimer.raw("SELECT * FROM timers WHERE id = {} FOR UPDATE", UUID(str(timer_id)))
        if not rows:
            return "missing"
        row = rows[0]
        if row["status"] != "scheduled" or (version is not None and row["version"] != version):
            return "stale"
        if row["due_at"] > now + timedelta(seconds=1):
            return "early"
        handler = HANDLERS.get(row["kind"])
        if handler is None:
            log.error("timer_without_handler", kind=row["kind"], timer=str(row["id"]))
            return "no_handler"
        await handler(ctx, _timer(row))
        await DueTimer.raw("UPDATE timers SET status = 'fired', fired_at = {}, updated_at = {} WHERE id = {}", now, now, row["id"])
    return "fired"


async def rebuild_jobs(arq: ArqRedis, now: datetime) -> int:
    """Re-create the deferred job of every scheduled timer due within the horizon whose job Redis lacks."""
    soon = await DueTimer.raw(
        "SELECT id, version, due_at FROM timers WHERE status = 'scheduled' AND due_at > {} AND due_at <= {}",
        now, now + HORIZON,
    )
    jobs = [(job_id(r["id"], r["version"]), FIRE_JOB, (str(r["id"]), r["version"]), r["due_at"].timestamp()) for r in soon]
    return await bulk_enqueue(arq, jobs) if jobs else 0


async def reconcile(ctx: dict[str, Any], limit: int = 1000) -> dict[str, int]:
    """The one reconciler: fire what is due (jobs Redis lost), re-create the jobs of timers in the horizon."""
    now = utcnow()
    due = await DueTimer.raw(
        "SELECT id FROM timers WHERE status = 'scheduled' AND due_at <= {} ORDER BY due_at LIMIT {}", now, limit,
    )
    fired = 0
    for row in due:
        try:
            fired += await fire(ctx, row["id"]) == "fired"
        except Exception:  # noqa: BLE001 - one failing handler must not stop the others; retried next run
            log.exception("timer_fire_failed", timer=str(row["id"]))
    rebuilt = await rebuild_jobs(ctx["redis"], now)
    if fired or rebuilt:
        log.info("timers_reconciled", fired=fired, rebuilt=rebuilt)
    return {"fired": fired, "rebuilt": rebuilt}
