"""ARQ jobs of complaints: SLA timers and the timer reconciler."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.complaints import service, sla
from backend.content_security import service as content_security
from backend.db import utcnow

log = structlog.get_logger("zhijian.complaints.jobs")


async def complaint_timer(ctx: dict[str, Any], complaint_id: str, stage: str, version: int) -> str:
    """One SLA timer (idempotent: re-reads the complaint; stale or early jobs do nothing)."""
    return await service.fire_timer(ctx["settings"], ctx["redis"], UUID(complaint_id), stage, version)


async def reconcile_complaint_timers(ctx: dict[str, Any]) -> dict[str, int]:
    """Fire every timer whose time has passed; re-create the next job of complaints that lost theirs."""
    now = utcnow()
    fired = 0
    for timer in await sla.due_timers(now):
        outcome = await service.fire_timer(ctx["settings"], ctx["redis"], timer["complaint"], timer["stage"], timer["version"])
        fired += outcome not in ("stale", "early", "missing")
    rebuilt = await sla.rebuild_jobs(ctx["redis"], now)
    if fired or rebuilt:
        log.info("complaint_timers_reconciled", fired=fired, rebuilt=rebuilt)
    return {"fired": fired, "rebuilt": rebuilt}


async def complaint_created(ctx: dict[str, Any], complaint_id: str) -> None:
    """Tell the assignee and the citizen about a new, routed complaint (dedup keys make it idempotent)."""
    await service.announce_created(ctx["settings"], ctx["redis"], UUID(complaint_id))
    # feat/wechat: WeChat's content security on the text and photos (a failure is retried by the reconciler)
    try:
        await content_security.register_complaint(UUID(complaint_id))
        await content_security.run_pending(ctx["settings"], ctx["wechat"], ctx["s3"], UUID(complaint_id))
    except Exception as exc:  # noqa: BLE001 - the pushes above are done; reconcile_content_checks retries
        log.warning("content_check_deferred", complaint=complaint_id, error=str(exc))
