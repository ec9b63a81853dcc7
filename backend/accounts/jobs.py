"""ARQ jobs of accounts: purge spent refresh tokens and bind codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from backend.accounts.tables import BindCode, RefreshToken
from backend.db import utcnow

log = structlog.get_logger("zhijian.accounts.jobs")

# Keep spent tokens a while: reuse detection needs the used row until the family's tokens expire.
_KEEP_AFTER_EXPIRY = timedelta(days=7)


async def purge_expired_tokens(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete refresh tokens and bind codes long past their expiry (idempotent)."""
    cutoff = utcnow() - _KEEP_AFTER_EXPIRY
    tokens = await RefreshToken.delete().where(RefreshToken.expires_at < cutoff).returning(RefreshToken.id)
    codes = await BindCode.delete().where(BindCode.expires_at < cutoff).returning(BindCode.id)
    log.info("purged_expired_tokens", refresh_tokens=len(tokens), bind_codes=len(codes))
    return {"refresh_tokens": len(tokens), "bind_codes": len(codes)}
