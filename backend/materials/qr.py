"""QR labels (二维码标签): compact signed tokens, PNG/SVG rendering, a printable sheet, photo decoding.

Token: ``M1.<base64url(key_id ‖ label uuid)>.<base64url(HMAC-SHA256(key, domain ‖ payload)[:12])>`` —
43 characters, no personal data (a label id only). The key id lets keys rotate: old keys keep
verifying labels already printed (settings MATERIAL_QR_OLD_KEYS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from dataclasses import dataclass
from html import escape
from uuid import UUID

import segno

from backend.settings import Settings

VERSION = "M1"
_DOMAIN = b"zhijian:material-label:v1:"
_MAC_BYTES = 12


class TokenInvalid(ValueError):
    """Not a label token, or its signature does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # malformed | unknown_key | bad_signature


@dataclass(frozen=True, slots=True)
class LabelRef:
    label_id: UUID
    key_id: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


DEV_KEY = "dev-only-material-qr-key-change-me-0123456789"


def keys(settings: Settings) -> dict[int, bytes]:
    """Signing keys by id: the current one and the old ones still accepted."""
    if settings.ENV == "production" and settings.MATERIAL_QR_KEY == DEV_KEY:
        raise RuntimeError("ZHIJIAN_MATERIAL_QR_KEY must be set in production")
    if not 1 <= settings.MATERIAL_QR_KEY_ID <= 255 or len(settings.MATERIAL_QR_KEY.encode()) < 32:
        raise RuntimeError("ZHIJIAN_MATERIAL_QR_KEY must be ≥ 32 bytes and its id 1..255")
    found = {settings.MATERIAL_QR_KEY_ID: settings.MATERIAL_QR_KEY.encode()}
    for item in settings.MATERIAL_QR_OLD_KEYS:
        kid, _, secret = item.partition(":")
        found.setdefault(int(kid), secret.encode())
    return found


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign(settings: Settings, label_id: UUID) -> str:
    """The token printed in a label's QR code (signed with the current key)."""
    kid = settings.MATERIAL_QR_KEY_ID
    payload = bytes([kid]) + label_id.bytes
    return f"{VERSION}.{_b64(payload)}.{_b64(_mac(keys(settings)[kid], payload))}"


def extract(content: str, settings: Settings) -> str:
    """The token inside scanned content (the bare token, or a URL ending in it)."""
    text = content.strip()
    prefix = settings.MATERIAL_QR_URL_PREFIX
    if prefix and text.startswith(prefix):
        text = text[len(prefix):]
    return text.rsplit("/", 1)[-1].split("?", 1)[0]


def verify(settings: Settings, content: str) -> LabelRef:
    """The label a scanned string names, if its signature verifies; TokenInvalid otherwise."""
    token = extract(content, settings)
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION or len(token) > 64:
        raise TokenInvalid("malformed")
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("malformed") from exc
    if len(payload) != 17 or len(mac) != _MAC_BYTES:
        raise TokenInvalid("malformed")
    key = keys(settings).get(payload[0])
    if key is None:
        raise TokenInvalid("unknown_key")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise TokenInvalid("bad_signature")
    return LabelRef(UUID(bytes=payload[1:]), payload[0])


def content_for(settings: Settings, token: str) -> str:
    """What the QR code holds: the token, behind the mini-program URL prefix when one is set."""
    return f"{settings.MATERIAL_QR_URL_PREFIX}{token}"


def png(content: str, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def svg(content: str, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="svg", scale=scale, border=4, xmldecl=False)
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class SheetItem:
    content: str
    caption: list[str]


def sheet_svg(items: list[SheetItem], columns: int = 3, rows: int = 4) -> bytes:
    """Printable A4 sheets (210 × 297 mm) of labels: QR plus caption lines, one page per columns × rows."""
    per_page = columns * rows
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    cell_w, cell_h = 210 / columns, 297 / rows
    out = [('<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="210mm" height="{297 * len(pages)}mm" viewBox="0 0 210 {297 * len(pages)}">')]
    for p, page in enumerate(pages):
        for i, item in enumerate(page):
            x, y = (i % columns) * cell_w, p * 297 + (i // columns) * cell_h
            qr = segno.make(item.content, error="m")
            size = min(cell_w, cell_h) - 22
            modules = qr.symbol_size(border=2)[0]
            inner = qr.svg_inline(scale=size / modules, border=2, omitsize=False)
            inner = inner.replace("<svg ", f'<svg x="{x + (cell_w - size) / 2:.2f}" y="{y + 3:.2f}" ', 1)
            out.append(f'<rect x="{x:.2f}" y="{y:.2f}" width="{cell_w:.2f}" height="{cell_h:.2f}" fill="none" '
                       'stroke="#999" stroke-width="0.2" stroke-dasharray="1,1"/>')
            out.append(inner)
            for n, line in enumerate(item.caption[:3]):
                out.append(f'<text x="{x + cell_w / 2:.2f}" y="{y + size + 7 + n * 4:.2f}" font-size="3.2" '
                           f'text-anchor="middle" font-family="sans-serif">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out).encode()


def decode_photo(data: bytes) -> list[str]:
    """The QR contents found in a photo (JPEG/PNG) of a label, by zxing-cpp."""
    import cv2
    import numpy as np
    import zxingcpp

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError("not an image")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found if r.valid]
