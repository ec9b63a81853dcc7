"""ARQ jobs of materials: move counted scans from Redis to PostgreSQL."""

from __future__ import annotations

from typing import Any

from backend.materials import trace


async def flush_material_scans(ctx: dict[str, Any]) -> int:
    """Cron (every minute, and at worker start): counted scans → material_scans and label counters."""
    total = 0
    while (n := await trace.flush_scans(ctx["redis"])) > 0:
        total += n
    return total
