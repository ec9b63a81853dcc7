"""Complaint jobs: the SLA timer handler (run by backend/timers) and the outbox task that announces a new case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.complaints import service
from backend.content_security import service as content_security
from backend.timers.service import Timer

log = structlog.get_logger("zhijian.complaints.jobs")


async def on_sla_timer(ctx: dict[str, Any], timer: Timer) -> str:
    """The timer service's handler for kind ``complaint_sla`` (inside the firing transaction)."""
    p = timer.payload
    return await service.fire_timer(ctx["settings"], ctx.get("redis"), UUID(p["complaint"]), p["stage"], int(p["clock"]))


async def complaint_created(ctx: dict[str, Any], complaint_id: str) -> None:
    """Tell the assignee and the citizen about a new, routed complaint (dedup keys make it idempotent)."""
    await service.announce_created(ctx["settings"], ctx["redis"], UUID(complaint_id))
    # issue 16: WeChat's content security on the text and photos (a failure is retried by the reconciler)
    try:
        await content_security.register_complaint(UUID(complaint_id))
        await content_security.run_pending(ctx["settings"], ctx["wechat"], ctx["s3"], UUID(complaint_id))
    except Exception as exc:  # noqa: BLE001 - the pushes above are done; reconcile_content_checks retries
        log.warning("content_check_deferred", complaint=complaint_id, error=str(exc))
