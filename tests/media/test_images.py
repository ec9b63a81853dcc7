"""Image verification (pure, table-driven): what is accepted, what is refused and why."""

from __future__ import annotations

import pytest

from backend.media.images import MAX_BYTES, ImageRejected, verify_image
from tests.support.images import GPS_MARK, encode, jpeg_with_gps, picture, png_claiming


def test_jpeg_with_gps_is_accepted_and_stripped():
    data = jpeg_with_gps()
    assert GPS_MARK in data and b"Exif" in data
    result = verify_image(data)
    assert (result.format, result.width, result.height) == ("jpeg", 640, 480)
    assert GPS_MARK not in result.jpeg and b"Exif" not in result.jpeg
    assert result.jpeg[:3] == b"\xff\xd8\xff" and len(result.sha256) == 64
    assert result.thumbnail[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(("ext", "fmt"), [(".png", "png"), (".webp", "webp"), (".jpg", "jpeg")])
def test_formats(ext, fmt):
    result = verify_image(encode(picture(800, 600), ext))
    assert result.format == fmt and (result.width, result.height) == (800, 600)


def test_thumbnail_is_at_most_320px():
    import cv2
    import numpy as np

    result = verify_image(encode(picture(1600, 900), ".jpg"))
    thumb = cv2.imdecode(np.frombuffer(result.thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 320


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "EMPTY"),
        (b"hello, this is text pretending to be a photo", "NOT_AN_IMAGE"),
        (b"%PDF-1.7 fake", "NOT_AN_IMAGE"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "CORRUPT"),
        (png_claiming(20000, 20000), "TOO_MANY_PIXELS"),
        (encode(picture(63, 400), ".png"), "TOO_SMALL"),
    ],
)
def test_refusals(data, reason):
    with pytest.raises(ImageRejected) as err:
        verify_image(data)
    assert err.value.reason == reason


def test_size_limit_both_sides():
    data = encode(picture(640, 480), ".png")
    assert verify_image(data, max_bytes=len(data)).format == "png"
    with pytest.raises(ImageRejected) as err:
        verify_image(data, max_bytes=len(data) - 1)
    assert err.value.reason == "TOO_LARGE"
    assert MAX_BYTES == 10 * 1024 * 1024


def test_truncated_jpeg_is_refused():
    data = encode(picture(640, 480), ".jpg")
    with pytest.raises(ImageRejected) as err:
        verify_image(data[: len(data) // 3])
    assert err.value.reason in ("CORRUPT",)
