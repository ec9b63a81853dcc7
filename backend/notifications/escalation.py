"""Escalation chains (升级提醒): notify group A now, B after X, C after Y — unless acknowledged first.

The chain lives in PostgreSQL (the truth); each next step is a durable timer (backend/timers/, kind
``escalation``, key ``{chain}:{step}``) scheduled in the same transaction as the step before it, so
neither a Redis flush nor a killed worker loses it. A step runs inside its timer's firing transaction,
re-reads the row and does nothing unless that step is still due; stopping a chain cancels its timer.
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
from backend.settings import Settings
from backend.timers import service as timers

log = structlog.get_logger("zhijian.escalation")

STEP_JOB = "escalation_step"  # the ARQ job of chains started before the timer service (still honoured)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_s: float  # from the start of the chain
    recipients: Sequence[UUID]


def job_id(escalation_id: UUID | str, step: int) -> str:
    return f"esc:{escalation_id}:{step}"


TIMER_KIND = "escalation"


async def _enqueue_step(escalation_id: UUID, step: int, when: datetime) -> None:
    """The step's timer, in the caller's transaction."""
    await timers.schedule(TIMER_KIND, f"{escalation_id}:{step}", when, {"escalation": str(escalation_id), "step": step})


async def on_timer(ctx: dict[str, Any], timer: timers.Timer) -> str:
    """The timer service's handler for kind ``escalation`` (inside the firing transaction)."""
    return await run_step(timer.payload["escalation"], int(timer.payload["step"]), settings=ctx["settings"], arq=ctx.get("redis"))


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
    """The subject was acknowledged or resolved: stop its active chains and cancel their timers."""
    rows = await Escalation.update(
        {Escalation.status: "stopped", Escalation.stop_reason: reason[:200], Escalation.next_at: None,
         Escalation.updated_at: utcnow()}
    ).where(
        (Escalation.subject_type == subject[0]) & (Escalation.subject_id == subject[1]) & (Escalation.status == "active")
    ).returning(Escalation.id, Escalation.next_step)
    for r in rows:
        await timers.cancel(TIMER_KIND, prefix=f"{r['id']}:")
    return len(rows)
