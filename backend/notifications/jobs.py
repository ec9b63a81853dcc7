"""ARQ jobs of notifications: escalation steps queued before the timer service (deliveries run through backend/outbox)."""

from __future__ import annotations

from typing import Any

from backend.notifications import escalation


async def escalation_step(ctx: dict[str, Any], escalation_id: str, step: int) -> str:
    """A step job queued by an older release; run_step is idempotent (does nothing unless that step is due)."""
    return await escalation.run_step(escalation_id, step, settings=ctx["settings"], arq=ctx["redis"])
