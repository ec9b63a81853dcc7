"""ARQ jobs of content security: check a new complaint's text and photos, and the reconciler."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.content_security import service

log = structlog.get_logger("zhijian.content_security.jobs")


async def check_complaint_content(ctx: dict[str, Any], complaint_id: str) -> dict[str, int]:
    """Register and send the checks of one complaint (idempotent: only pending checks are sent)."""
    cid = UUID(complaint_id)
    await service.register_complaint(cid)
    return await service.run_pending(ctx["settings"], ctx["wechat"], ctx["s3"], cid)


async def reconcile_content_checks(ctx: dict[str, Any]) -> dict[str, int]:
    """Register complaints whose check was never made (Redis lost the job) and resend pending checks."""
    registered = await service.register_missing()
    counts = await service.run_pending(ctx["settings"], ctx["wechat"], ctx["s3"])
    if registered or counts:
        log.info("content_checks_reconciled", registered=registered, **counts)
    return {"registered": registered, **counts}
