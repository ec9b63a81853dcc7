"""Worker hooks of the lifecycle: the inspection-answer deadline's timer handler (no cron any more)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.lifecycle import inspections
from backend.timers.service import Timer

TIMER_KIND = inspections.TIMER_KIND


async def on_inspection_timer(ctx: dict[str, Any], timer: Timer) -> str:
    """The timer service's handler for kind ``inspection_answer`` (inside the firing transaction)."""
    return await inspections.deadline_step(UUID(timer.payload["request"]), timer.payload["step"],
                                           settings=ctx["settings"], arq=ctx.get("redis"))
