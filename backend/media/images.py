"""Image verification (pure): real image by magic bytes and header, decoded by OpenCV, re-encoded.

Re-encoding with OpenCV writes no EXIF, so GPS and device data in a citizen's photo never reach
storage (orientation is applied to the pixels first). Dimensions are read from the header before
decoding, so a small file that would decompress to gigapixels is refused without being decoded.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import cv2
import numpy as np

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 64
THUMB_SIDE = 320
JPEG_QUALITY = 90


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class VerifiedImage:
    format: str  # of the upload: jpeg | png | webp
    width: int
    height: int
    sha256: str  # of the uploaded bytes
    jpeg: bytes  # re-encoded, metadata-free
    thumbnail: bytes
    dhash: str = ""  # 64-bit difference hash (16 hex): near-same pictures differ in a few bits


def dhash(image: np.ndarray) -> str:
    """The difference hash of a picture (Krawetz's dHash): 9x8 grey, one bit per left<right neighbour pair.

    Survives re-encoding, rescaling and small crops, so one selfie re-uploaded under another name is found.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def sniff(data: bytes) -> str | None:
    """The image format from its magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) read from the header without decoding."""
    if fmt == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", data[16:24])
    if fmt == "jpeg":
        return _jpeg_size(data)
    if fmt == "webp":
        return _webp_size(data)
    return None


def _encode(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageRejected("ENCODE_FAILED")
    return buf.tobytes()


def verify_image(data: bytes, max_bytes: int = MAX_BYTES) -> VerifiedImage:
    """Check and clean one uploaded image; raise ImageRejected with a reason code."""
    if not data:
        raise ImageRejected("EMPTY")
    if len(data) > max_bytes:
        raise ImageRejected("TOO_LARGE", f"{len(data)} > {max_bytes} bytes")
    fmt = sniff(data)
    if fmt is None:
        raise ImageRejected("NOT_AN_IMAGE", "unknown magic bytes (JPEG, PNG or WebP expected)")
    size = header_size(data, fmt)
    if size is None:
        raise ImageRejected("CORRUPT", "unreadable header")
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageRejected("TOO_MANY_PIXELS", f"{width}x{height}")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageRejected("CORRUPT", "cannot be decoded")
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageRejected("TOO_SMALL", f"{w}x{h}")
    scale = THUMB_SIDE / max(h, w)
    thumb = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else image
    return VerifiedImage(
        format=fmt,
        width=w,
        height=h,
        sha256=hashlib.sha256(data).hexdigest(),
        jpeg=_encode(image),
        thumbnail=_encode(thumb),
        dhash=dhash(image),
    )
