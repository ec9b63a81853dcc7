"""Personal data at rest: AES-GCM under rotating keys, a keyed hash to find a record, masks for display.

Keys come from master secrets by HKDF-SHA256 (RFC 5869), one per purpose: an encryption key per key id
(``PII_KEY`` is key ``PII_KEY_ID``; retired ones stay readable through ``PII_OLD_KEYS``) and one lookup key
(``PII_LOOKUP_KEY``) that does not rotate with them, so equality indexes survive a rotation. A value is
stored as ``k<key id>.<base64url(nonce | ciphertext | tag)>``: the key id travels beside the value, and
``backend.workforce.pii_rotation`` re-encrypts, in the background, every value not under the current key.
Values written before key ids existed (no ``k<id>.`` prefix, a bare sha256 key derivation) still decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.settings import Settings

_SALT = b"zhijian-pii-v1"


def _hkdf(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret.encode())


def parse_old_keys(items: tuple[str, ...]) -> dict[int, str]:
    """``("1:secret", ...)`` → {1: "secret"}; a malformed entry is a configuration error."""
    out: dict[int, str] = {}
    for item in items:
        kid, sep, secret = item.partition(":")
        if not sep or not kid.strip().isdigit() or not secret:
            raise ValueError("ZHIJIAN_PII_OLD_KEYS entries are '<key id>:<secret>'")
        out[int(kid)] = secret
    return out


@dataclass(frozen=True)
class _Legacy:
    """The pre-key-id derivation (sha256 of the secret): read only, for values written before rotation."""

    aead: AESGCM
    mac_key: bytes

    @classmethod
    def of(cls, secret: str) -> _Legacy:
        material = hashlib.sha256(secret.encode()).digest()
        return cls(AESGCM(hashlib.sha256(b"enc" + material).digest()), hashlib.sha256(b"mac" + material).digest())


class PiiCipher:
    """Encrypts ID numbers, phones and bank cards; ``lookup`` makes an equality index without the value."""

    def __init__(self, key: str, key_id: int = 1, old_keys: dict[int, str] | None = None,
                 lookup_key: str | None = None) -> None:
        secrets = {**(old_keys or {}), key_id: key}
        self.key_id = key_id
        self._aeads = {kid: AESGCM(_hkdf(s, b"enc:%d" % kid)) for kid, s in secrets.items()}
        self._legacy = [_Legacy.of(key), *(_Legacy.of(s) for kid, s in sorted(secrets.items()) if kid != key_id)]
        self._mac_key = _hkdf(lookup_key if lookup_key is not None else key, b"lookup")

    @property
    def prefix(self) -> str:
        """Every value under the current key starts with this."""
        return f"k{self.key_id}."

    def encrypt(self, plain: str, context: str) -> str:
        """Random nonce; ``context`` (e.g. "id_number") is bound as associated data."""
        nonce = os.urandom(12)
        sealed = self._aeads[self.key_id].encrypt(nonce, plain.encode(), context.encode())
        return self.prefix + base64.urlsafe_b64encode(nonce + sealed).decode()

    @staticmethod
    def key_id_of(token: str) -> int | None:
        """The key id a stored value was written under; None for a value from before key ids."""
        head, dot, _ = token.partition(".")
        return int(head[1:]) if dot and head[:1] == "k" and head[1:].isdigit() else None

    def decrypt(self, token: str, context: str) -> str:
        """The plain value; "" for an empty column (never given, or erased by the retention job)."""
        if not token:
            return ""
        kid = self.key_id_of(token)
        if kid is not None:
            aead = self._aeads.get(kid)
            if aead is None:
                raise KeyError(f"PII key {kid} is not configured (ZHIJIAN_PII_OLD_KEYS)")
            raw = base64.urlsafe_b64decode(token.partition(".")[2].encode())
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        raw = base64.urlsafe_b64decode(token.encode())
        for legacy in self._legacy:
            try:
                return legacy.aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
            except Exception:  # noqa: BLE001 - InvalidTag: try the next secret
                continue
        raise ValueError("a stored personal value could not be decrypted with any configured key")

    def lookup(self, plain: str, context: str) -> str:
        """A keyed hash (HMAC-SHA256) of the normalised value, for unique indexes and search."""
        return hmac.new(self._mac_key, f"{context}:{plain.strip().upper()}".encode(), hashlib.sha256).hexdigest()

    def legacy_lookup(self, plain: str, context: str) -> str:
        """The lookup hash as written before key ids (re-computed by the rotation job)."""
        return hmac.new(self._legacy[0].mac_key, f"{context}:{plain.strip().upper()}".encode(),
                        hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _cipher(key: str, key_id: int, old: tuple[str, ...], lookup_key: str) -> PiiCipher:
    return PiiCipher(key, key_id, parse_old_keys(old), lookup_key or None)


def cipher(settings: Settings) -> PiiCipher:
    """The PII cipher for these settings (HKDF keys derived once per process)."""
    return _cipher(settings.PII_KEY, settings.PII_KEY_ID, settings.PII_OLD_KEYS, settings.PII_LOOKUP_KEY)


def mask_id_number(number: str) -> str:
    """330302********123X style: region and the last four only."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


def mask_bank_card(card: str) -> str:
    digits = card.replace(" ", "")
    return "**** **** **** " + digits[-4:] if len(digits) >= 8 else "*" * len(digits)
