"""ARQ jobs of credit: the periodic rescoring (decay) and listings whose notice period is over."""

from __future__ import annotations

from typing import Any

import structlog

from backend.credit import service

log = structlog.get_logger("zhijian.credit.jobs")


async def credit_recompute(ctx: dict[str, Any]) -> dict[str, int]:
    """Rescore every enterprise with events (decay) and start listings due (idempotent)."""
    result = await service.recompute_all(ctx["settings"], ctx["redis"])
    if any(result.values()):
        log.info("credit_recomputed", **result)
    return result
