"""Escalation chains (升级提醒): notify group A now, B after X, C after Y — unless acknowledged first.

The chain lives in PostgreSQL (the truth); each next step is an outbox task (backend/outbox/) due at
its time, written in the same transaction as the step before it, so neither a Redis flush nor a killed
worker loses it. A step re-reads the row and does nothing unless that step is still due, so a duplicate
or late run is harmless; the reconciler runs steps whose time has passed as a second line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from arq.connections import ArqRedis

from backend.db import utcnow
from backend.errors import BadRequest
from backend.notifications import service
from backend.notifications.schemas import Urgency
from backend.notifications.tables import Escalation
from backend.outbox import service as outbox
from backend.settings import Settings

log = structlog.get_logger("zhijian.escalation")

STEP_JOB = "escalation_step"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_s: float  # from the start of the chain
    recipients: Sequence[UUID]


def job_id(escalation_id: UUID | str, step: int) -> str:
    return f"esc:{escalation_id}:{step}"


async def _enqueue_step(escalation_id: UUID, step: int, when: datetime) -> None:
    """The step's outbox task, in the caller's transaction (runs at ``when``, after the commit)."""
    await outbox.enqueue_task(STEP_JOB, [str(escalation_id), step], available_at=when)


async def start_escalation(
    subject: tuple[str, str],
    template: str,
    data: dict[str, Any],
    steps: Sequence[EscalationStep],
    *,
    settings: Settings,
    arq: ArqRedis,
    urgency: Urgency = Urgency.HIGH,
) -> UUID:
    """Create the chain; a step due now is sent at once, later ones are timed jobs."""
    if not steps or any(s.after_s < 0 for s in steps):
        raise BadRequest("VALIDATION_ERROR", detail="escalation needs steps with after_s >= 0")
    ordered = sorted(steps, key=lambda s: s.after_s)
    now = utcnow()
    row = Escalation(
        subject_type=subject[0],
        subject_id=subject[1],
        template=template,
        data=json.dumps(data, ensure_ascii=False, default=str),
        steps=json.dumps([{"after_s": s.after_s, "recipients": [str(r) for r in s.recipients]} for s in ordered]),
        urgency=urgency.value,
        next_step=0,
        next_at=now + timedelta(seconds=ordered[0].after_s),
        created_at=now,
    )
    async with Escalation._meta.db.transaction():
        await row.save()
        if ordered[0].after_s <= 0:
            await run_step(row.id, 0, settings=settings, arq=arq)
        else:
            await _enqueue_step(row.id, 0, row.next_at)
    return row.id


async def run_step(escalation_id: UUID | str, step: int, *, settings: Settings, arq: ArqRedis | None) -> str:
    """Send one step if it is still the chain's due step; schedule the next. Idempotent."""
    async with Escalation._meta.db.transaction():
        rows = await Escalation.raw(
            "SELECT * FROM escalations WHERE id = {} FOR UPDATE", UUID(str(escalation_id))
        )
        if not rows:
            return "missing"
        esc = rows[0]
        if esc["status"] != "active" or esc["next_step"] != step:
            return "not_due"
        steps = esc["steps"] if isinstance(esc["steps"], list) else json.loads(esc["steps"])
        data = esc["data"] if isinstance(esc["data"], dict) else json.loads(esc["data"])
        # The pushes are outbox rows of this transaction: delivered if and only if this step commits.
        await service.notify(
            [UUID(r) for r in steps[step]["recipients"]],
            esc["template"],
            data,
            dedup_key=f"esc:{esc['id']}:{step}",
            urgency=Urgency(esc["urgency"]),
            settings=settings,
            arq=None,
            subject=(esc["subject_type"], esc["subject_id"]),
        )
        following = step + 1
        if following < len(steps):
            next_at = esc["created_at"] + timedelta(seconds=steps[following]["after_s"])
            await Escalation.update(
                {Escalation.next_step: following, Escalation.next_at: next_at, Escalation.updated_at: utcnow()}
            ).where(Escalation.id == esc["id"])
            await _enqueue_step(esc["id"], following, next_at)
        else:
            await Escalation.update(
                {Escalation.next_step: following, Escalation.next_at: None, Escalation.status: "completed",
                 Escalation.updated_at: utcnow()}
            ).where(Escalation.id == esc["id"])
    return "sent"


async def stop_escalations(subject: tuple[str, str], reason: str, *, arq: ArqRedis | None) -> int:
    """The subject was acknowledged or resolved: stop its active chains and drop their queued jobs."""
    rows = await Escalation.update(
        {Escalation.status: "stopped", Escalation.stop_reason: reason[:200], Escalation.next_at: None,
         Escalation.updated_at: utcnow()}
    ).where(
        (Escalation.subject_type == subject[0]) & (Escalation.subject_id == subject[1]) & (Escalation.status == "active")
    ).returning(Escalation.id, Escalation.next_step)
    if arq is not None and rows:
        try:
            async with arq.pipeline(transaction=True) as pipe:
                for r in rows:
                    jid = job_id(r["id"], r["next_step"])
                    pipe.zrem(arq.default_queue_name, jid)
                    pipe.delete(f"arq:job:{jid}")
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - a leftover job finds the chain stopped and does nothing
            log.warning("escalation_job_cleanup_failed", error=str(exc))
    return len(rows)


async def reconcile(now: datetime, *, settings: Settings, arq: ArqRedis | None) -> dict[str, int]:
    """Run steps whose time has passed (their outbox task normally has; a late run finds nothing due)."""
    overdue = await Escalation.select(Escalation.id, Escalation.next_step).where(
        (Escalation.status == "active") & (Escalation.next_at <= now - timedelta(seconds=settings.NOTIFY_RECONCILE_GRACE_S))
    )
    ran = 0
    for row in overdue:
        ran += await run_step(row["id"], row["next_step"], settings=settings, arq=arq) == "sent"
    return {"overdue_run": ran}
