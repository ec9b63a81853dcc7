"""ARQ jobs of notifications: escalation steps and the reconciler (deliveries run through backend/outbox)."""

from __future__ import annotations

from typing import Any

import structlog

from backend.db import utcnow
from backend.notifications import escalation

log = structlog.get_logger("zhijian.notifications.jobs")


async def escalation_step(ctx: dict[str, Any], escalation_id: str, step: int) -> str:
    return await escalation.run_step(escalation_id, step, settings=ctx["settings"], arq=ctx["redis"])


async def reconcile_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """Rebuild what Redis may have lost: run overdue escalation steps, re-create their jobs."""
    result = await escalation.reconcile(utcnow(), settings=ctx["settings"], arq=ctx["redis"])
    if any(result.values()):
        log.info("notifications_reconciled", **result)
    return result
