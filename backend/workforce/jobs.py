"""ARQ jobs of the workforce domain."""

from __future__ import annotations

from typing import Any

from backend.workforce import pii_rotation


async def pii_reencrypt(ctx: dict[str, Any]) -> dict[str, int]:
    """Hourly and at start-up: re-encrypt personal values still under a retired PII key (nothing to do: one scan)."""
    return await pii_rotation.reencrypt(ctx["settings"])
