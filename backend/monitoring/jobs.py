"""ARQ jobs of monitoring: alarms left unacknowledged past their deadline feed enterprise credit."""

from __future__ import annotations

from typing import Any

from backend.db import utcnow
from backend.monitoring import overdue


async def alarm_ack_overdue(ctx: dict[str, Any]) -> int:
    """Record ``alarm_unacknowledged`` credit events for alarms past the deadline (idempotent)."""
    return await overdue.record_ack_overdue(utcnow(), settings=ctx["settings"], arq=ctx.get("redis"))
