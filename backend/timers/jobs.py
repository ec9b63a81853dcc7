"""ARQ jobs of the timer service: a timer's deferred job and the reconciler (cron)."""

from __future__ import annotations

from typing import Any

from backend.timers import service


async def timer_fire(ctx: dict[str, Any], timer_id: str, version: int) -> str:
    """A timer's fast path (deferred to its time); stale or early jobs do nothing."""
    return await service.fire(ctx, timer_id, version)


async def reconcile_timers(ctx: dict[str, Any]) -> dict[str, int]:
    return await service.reconcile(ctx)
