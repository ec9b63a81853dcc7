"""Personal data at rest: AES-GCM encryption, a keyed hash to find a record, masks for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PiiCipher:
    """Encrypts ID numbers, phones and bank cards; ``lookup`` makes an equality index without the value."""

    def __init__(self, key: str) -> None:
        material = hashlib.sha256(key.encode()).digest()
        self._aead = AESGCM(hashlib.sha256(b"enc" + material).digest())
        self._mac_key = hashlib.sha256(b"mac" + material).digest()

    def encrypt(self, plain: str, context: str) -> str:
        """Random nonce; ``context`` (e.g. "id_number") is bound as associated data."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def lookup(self, plain: str, context: str) -> str:
        """A keyed hash (HMAC-SHA256) of the normalised value, for unique indexes and search."""
        return hmac.new(self._mac_key, f"{context}:{plain.strip().upper()}".encode(), hashlib.sha256).hexdigest()


def mask_id_number(number: str) -> str:
    """330302********123X style: region and the last four only."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


def mask_bank_card(card: str) -> str:
    digits = card.replace(" ", "")
    return "**** **** **** " + digits[-4:] if len(digits) >= 8 else "*" * len(digits)
