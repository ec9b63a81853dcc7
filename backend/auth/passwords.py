"""Staff passwords: argon2id hashes and the password policy."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.errors import BadRequest

_hasher = PasswordHasher()
# Verified when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("zhijian-dummy-password-0")


def check_password_policy(password: str) -> None:
    """At least 10 characters with letters and digits."""
    if len(password) < 10 or not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise BadRequest("PASSWORD_WEAK")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; False for a missing hash too."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
