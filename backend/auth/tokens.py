"""Access tokens (short-lived JWT, PyJWT HS256) and opaque refresh / API-key secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from uuid import UUID

import jwt

from backend.auth.principal import Principal, Role
from backend.errors import Unauthorized
from backend.settings import Settings

_ALGORITHM = "HS256"


def issue_access_token(settings: Settings, principal: Principal, now: datetime) -> tuple[str, datetime]:
    """Sign an access token for a user principal; returns the token and its expiry."""
    expires = now + timedelta(seconds=settings.ACCESS_TOKEN_TTL_S)
    claims = {
        "iss": settings.JWT_ISSUER,
        "sub": str(principal.id),
        "typ": "access",
        "role": principal.role.value if principal.role else None,
        "dst": principal.district_id,
        "ent": str(principal.enterprise_id) if principal.enterprise_id else None,
        "name": principal.name,
        "ver": principal.token_version,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=_ALGORITHM), expires


def decode_access_token(settings: Settings, token: str) -> Principal:
    """Verify signature, issuer, expiry and type; raise Unauthorized with a precise code."""
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[_ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "typ"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("TOKEN_INVALID") from exc
    if claims.get("typ") != "access":
        raise Unauthorized("TOKEN_INVALID")
    try:
        return Principal(
            kind="user",
            id=UUID(claims["sub"]),
            role=Role(claims["role"]),
            district_id=claims.get("dst"),
            enterprise_id=UUID(claims["ent"]) if claims.get("ent") else None,
            name=claims.get("name") or "",
            token_version=int(claims.get("ver") or 0),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("TOKEN_INVALID") from exc


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret for refresh tokens, bind codes and API keys."""
    return secrets.token_urlsafe(nbytes)


def secret_hash(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (what is stored at rest)."""
    return hashlib.sha256(secret.encode()).hexdigest()
