"""ARQ jobs of privacy (issue 23): the daily retention run."""

from __future__ import annotations

from typing import Any

from backend.privacy import retention


async def retention_run(ctx: dict[str, Any]) -> dict[str, Any]:
    """Apply the data map's retention rules as of now (idempotent: a second run finds nothing more to do)."""
    result = await retention.run(ctx["settings"], ctx["s3"])
    return {"id": result["id"], "counts": result["counts"]}
