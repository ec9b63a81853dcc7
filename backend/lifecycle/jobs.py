"""ARQ jobs of the lifecycle: the inspection-request timer (reminders, escalation to the station)."""

from __future__ import annotations

from typing import Any

from backend.db import utcnow
from backend.lifecycle import inspections


async def inspection_overdue(ctx: dict[str, Any]) -> int:
    """Remind and escalate overdue inspection answers (idempotent: each request once per step)."""
    return await inspections.remind_overdue(utcnow(), settings=ctx["settings"], arq=ctx.get("redis"))
