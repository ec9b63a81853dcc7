"""The SLA clock's timers (时限提醒): rows in PostgreSQL, each next one an ARQ job deferred to its time.

A complaint keeps one ARQ job at a time: the next unfired timer of its current ``sla_version``
(job id ``sla:{complaint}:{stage}:{version}``). Pausing, resuming, resolving or reopening bumps the
version or cancels, so a stale job finds nothing to do. The reconciler fires what is overdue and
re-creates the next job of every open complaint whose job Redis lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from arq.connections import ArqRedis

from backend.clients.redis import bulk_enqueue
from backend.complaints.rules import sla_schedule
from backend.complaints.tables import Timer

log = structlog.get_logger("zhijian.complaints.sla")

TIMER_JOB = "complaint_timer"


def job_id(complaint_id: UUID | str, stage: str, version: int) -> str:
    return f"sla:{complaint_id}:{stage}:{version}"


async def create_timers(row: dict[str, Any], only_unfired: bool = False) -> tuple[str, datetime] | None:
    """The SLA stages of the complaint's current version (one statement, in the caller's transaction).

    ``only_unfired`` (a resume): stages that already fired in the current clock (since
    ``clock_started_at``) are left out — a pause moves only what is still to come, so a reminder or a
    breach is never sent twice. Returns the first stage created and its time.
    """
    schedule = sla_schedule(row["clock_started_at"], row["sla_seconds"], row["paused_total_s"])
    rows = await Timer.raw(
        "INSERT INTO complaint_timers (complaint, stage, version, due_at, cancelled)"
        " SELECT {}, s, {}, d, false FROM unnest({}::text[], {}::timestamptz[]) AS t(s, d)"
        " WHERE NOT {} OR NOT EXISTS (SELECT 1 FROM complaint_timers f WHERE f.complaint = {} AND f.stage = t.s"
        "  AND f.fired_at IS NOT NULL AND f.fired_at >= {})"
        " ON CONFLICT (complaint, stage, version) DO NOTHING RETURNING stage, due_at",
        row["id"], row["sla_version"], [d.stage for d in schedule], [d.at for d in schedule],
        only_unfired, row["id"], row["clock_started_at"],
    )
    if not rows:
        return None
    first = min(rows, key=lambda r: r["due_at"])
    return first["stage"], first["due_at"]


async def queue(arq: ArqRedis | None, complaint_id: UUID, stage: str, due_at: datetime, version: int, fresh: bool) -> None:
    """Queue one timer's job (``fresh``: its id cannot exist yet, skip the check)."""
    if arq is None:
        return
    try:
        await bulk_enqueue(
            arq, [(job_id(complaint_id, stage, version), TIMER_JOB, (str(complaint_id), stage, version), due_at.timestamp())],
            check_existing=not fresh,
        )
    except Exception as exc:  # noqa: BLE001 - the reconciler re-creates it
        log.warning("sla_enqueue_failed", complaint=str(complaint_id), error=str(exc))


async def create_autoclose(row: dict[str, Any], at: datetime) -> None:
    await Timer.raw(
        "INSERT INTO complaint_timers (complaint, stage, version, due_at, cancelled) VALUES ({}, 'autoclose', {}, {}, false)"
        " ON CONFLICT (complaint, stage, version) DO NOTHING",
        row["id"], row["sla_version"], at,
    )


async def cancel_timers(complaint_id: UUID, version: int, stages: tuple[str, ...] | None = None) -> list[str]:
    """Cancel unfired timers of a version; returns the job ids to drop from Redis."""
    query = Timer.update({Timer.cancelled: True}).where(
        (Timer.complaint == complaint_id) & (Timer.version == version) & Timer.fired_at.is_null() & Timer.cancelled.eq(False)
    )
    if stages:
        query = query.where(Timer.stage.is_in(list(stages)))
    rows = await query.returning(Timer.stage, Timer.version)
    return [job_id(complaint_id, r["stage"], r["version"]) for r in rows]


async def drop_jobs(arq: ArqRedis | None, job_ids: list[str]) -> None:
    """Remove queued jobs (zrem + delete); a job already running checks the state and does nothing."""
    if arq is None or not job_ids:
        return
    try:
        async with arq.pipeline(transaction=True) as pipe:
            for jid in job_ids:
                pipe.zrem(arq.default_queue_name, jid)
                pipe.delete(f"arq:job:{jid}")
            await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - stale jobs are harmless; the DB is the truth
        log.warning("sla_job_drop_failed", error=str(exc))


async def next_timer(complaint_id: UUID) -> dict[str, Any] | None:
    """The earliest live timer of the complaint's current version."""
    rows = await Timer.raw(
        "SELECT t.stage, t.version, t.due_at FROM complaint_timers t JOIN complaints c ON c.id = t.complaint"
        " WHERE t.complaint = {} AND t.version = c.sla_version AND t.fired_at IS NULL AND NOT t.cancelled"
        " ORDER BY t.due_at LIMIT 1",
        complaint_id,
    )
    return rows[0] if rows else None


async def queue_next(arq: ArqRedis | None, complaint_id: UUID) -> None:
    """Make sure the complaint's next timer has its deferred job (after the caller's commit)."""
    if arq is None:
        return
    nxt = await next_timer(complaint_id)
    if nxt is None:
        return
    try:
        await bulk_enqueue(
            arq, [(job_id(complaint_id, nxt["stage"], nxt["version"]), TIMER_JOB,
                   (str(complaint_id), nxt["stage"], nxt["version"]), nxt["due_at"].timestamp())]
        )
    except Exception as exc:  # noqa: BLE001 - the reconciler re-creates it
        log.warning("sla_enqueue_failed", complaint=str(complaint_id), error=str(exc))


async def due_timers(now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """Live timers whose time has come (missed jobs included)."""
    return await Timer.raw(
        "SELECT t.complaint, t.stage, t.version FROM complaint_timers t JOIN complaints c ON c.id = t.complaint"
        " WHERE t.fired_at IS NULL AND NOT t.cancelled AND t.version = c.sla_version AND t.due_at <= {}"
        " ORDER BY t.due_at LIMIT {}",
        now, limit,
    )


async def rebuild_jobs(arq: ArqRedis, now: datetime, grace: timedelta = timedelta(seconds=0)) -> int:
    """Re-create the next-timer job of every complaint whose job is missing (e.g. after a Redis flush)."""
    rows = await Timer.raw(
        "SELECT DISTINCT ON (t.complaint) t.complaint, t.stage, t.version, t.due_at"
        " FROM complaint_timers t JOIN complaints c ON c.id = t.complaint"
        " WHERE t.fired_at IS NULL AND NOT t.cancelled AND t.version = c.sla_version AND t.due_at > {}"
        " ORDER BY t.complaint, t.due_at",
        now + grace,
    )
    jobs = [
        (job_id(r["complaint"], r["stage"], r["version"]), TIMER_JOB, (str(r["complaint"]), r["stage"], r["version"]),
         r["due_at"].timestamp())
        for r in rows
    ]
    return await bulk_enqueue(arq, jobs)
