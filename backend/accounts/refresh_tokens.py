"""Refresh tokens (刷新凭证): rotating, revocable, stored as hashes; reuse revokes the whole login."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from uuid import UUID

from backend.accounts.tables import RefreshToken
from backend.auth.tokens import new_secret, secret_hash
from backend.db import utcnow
from backend.errors import Unauthorized


async def issue_refresh_token(user_id: UUID, now: datetime, ttl_s: int, family: UUID | None = None) -> str:
    """Store a new refresh token (hash only) and return the secret."""
    token = new_secret(32)
    await RefreshToken.insert(
        RefreshToken(
            user=user_id,
            family=family or uuid.uuid4(),
            token_hash=secret_hash(token),
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return token


async def rotate_refresh_token(token: str, now: datetime, ttl_s: int) -> tuple[UUID, str]:
    """Spend a refresh token once and issue its successor; a second spend revokes the family."""
    digest = secret_hash(token)
    spent = (
        await RefreshToken.update({RefreshToken.used_at: now})
        .where(
            (RefreshToken.token_hash == digest)
            & RefreshToken.used_at.is_null()
            & RefreshToken.revoked_at.is_null()
            & (RefreshToken.expires_at > now)
        )
        .returning(RefreshToken.user, RefreshToken.family)
    )
    if spent:
        user_id, family = spent[0]["user"], spent[0]["family"]
        return user_id, await issue_refresh_token(user_id, now, ttl_s, family=family)
    row = await RefreshToken.select(RefreshToken.family, RefreshToken.used_at).where(
        RefreshToken.token_hash == digest
    ).first()
    if row is not None and row["used_at"] is not None:
        # A stolen token replayed after the real client rotated it: end that whole login.
        await revoke_family(row["family"], now)
        raise Unauthorized("REFRESH_TOKEN_REUSED")
    raise Unauthorized("REFRESH_TOKEN_INVALID")


async def revoke_family(family: UUID, now: datetime) -> None:
    await RefreshToken.update({RefreshToken.revoked_at: now}).where(
        (RefreshToken.family == family) & RefreshToken.revoked_at.is_null()
    )


async def revoke_refresh_token(token: str, now: datetime) -> None:
    """Log out one login (the token's family); unknown tokens are ignored."""
    row = await RefreshToken.select(RefreshToken.family).where(
        RefreshToken.token_hash == secret_hash(token)
    ).first()
    if row is not None:
        await revoke_family(row["family"], now)


async def revoke_all_refresh_tokens(user_id: UUID, now: datetime | None = None) -> None:
    await RefreshToken.update({RefreshToken.revoked_at: now or utcnow()}).where(
        (RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null()
    )
