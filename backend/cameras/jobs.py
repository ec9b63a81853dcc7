"""ARQ jobs of cameras: retention of the labelled real frames (issue 21)."""

from __future__ import annotations

from typing import Any

from backend.cameras.review import purge_labels


async def purge_camera_labels(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete labelled frames past retention or consent, and raw frames no label needs (idempotent)."""
    return await purge_labels(ctx["settings"], ctx["s3"])
