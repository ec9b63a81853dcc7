"""Test images made on the fly: JPEG with EXIF GPS, PNG, WebP, and bad files."""

from __future__ import annotations

import struct

import cv2
import numpy as np

GPS_MARK = b"GPS-SECRET-N28"


def picture(width: int = 640, height: int = 480, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 180, dtype=np.uint8)
    cv2.rectangle(image, (width // 5, height // 5), (width // 2, height // 2), (30, 60, 200), -1)
    noise = rng.integers(0, 30, size=image.shape, dtype=np.uint8)
    return cv2.add(image, noise)


def encode(image: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def exif_gps_segment() -> bytes:
    """A well-formed APP1 Exif segment: IFD0 → GPS IFD with latitude ref and latitude, plus a marker."""
    tiff = bytearray(b"II*\x00" + struct.pack("<I", 8))
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x8825, 4, 1, 26) + struct.pack("<I", 0)
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHI", 1, 2, 2) + b"N\x00\x00\x00"
    tiff += struct.pack("<HHII", 2, 5, 3, 56)
    tiff += struct.pack("<I", 0)
    tiff += struct.pack("<IIIIII", 28, 1, 0, 1, 0, 1)
    payload = b"Exif\x00\x00" + bytes(tiff) + GPS_MARK
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    plain = encode(picture(width, height), ".jpg")
    return plain[:2] + exif_gps_segment() + plain[2:]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims these dimensions (a decompression bomb shape)."""
    real = encode(picture(64, 64), ".png")
    return real[:16] + struct.pack(">II", width, height) + real[24:]


def scene(seed: int, width: int = 480, height: int = 640) -> np.ndarray:
    """A picture whose layout depends on the seed (shapes, places, colours): two seeds look different, the way
    two people's selfies do, so perceptual hashes of different scenes are far apart."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), rng.integers(60, 200, size=3), dtype=np.uint8)
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), int(rng.integers(20, 160)), colour, -1)
        else:
            cv2.rectangle(image, (x, y), (x + int(rng.integers(30, 240)), y + int(rng.integers(30, 240))), colour, -1)
    return cv2.add(image, rng.integers(0, 12, size=image.shape, dtype=np.uint8))
