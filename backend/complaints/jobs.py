"""Complaint jobs: the SLA timer handler (run by backend/timers) and the outbox task that announces a new case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.complaints import service
from backend.timers.service import Timer

log = structlog.get_logger("zhijian.complaints.jobs")


async def on_sla_timer(ctx: dict[str, Any], timer: Timer) -> str:
    """The timer service's handler for kind ``complaint_sla`` (inside the firing transaction)."""
    p = timer.payload
    return await service.fire_timer(ctx["settings"], ctx.get("redis"), UUID(p["complaint"]), p["stage"], int(p["clock"]))


async def complaint_created(ctx: dict[str, Any], complaint_id: str) -> None:
    """Tell the assignee and the citizen about a new, routed complaint (dedup keys make it idempotent)."""
    await service.announce_created(ctx["settings"], ctx["redis"], UUID(complaint_id))
