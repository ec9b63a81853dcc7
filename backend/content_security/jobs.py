"""ARQ jobs of content security: the reconciler (a new complaint's checks run in `complaint_created`)."""

from __future__ import annotations

from typing import Any

import structlog

from backend.content_security import service

log = structlog.get_logger("zhijian.content_security.jobs")


async def reconcile_content_checks(ctx: dict[str, Any]) -> dict[str, int]:
    """Register complaints whose check was never made (Redis lost the job) and resend pending checks."""
    registered = await service.register_missing()
    counts = await service.run_pending(ctx["settings"], ctx["wechat"], ctx["s3"])
    if registered or counts:
        log.info("content_checks_reconciled", registered=registered, **counts)
    return {"registered": registered, **counts}
