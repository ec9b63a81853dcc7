"""Photos through the API and by presigned upload to the real S3 server; private by default."""

from __future__ import annotations

import uuid

import httpx
import pytest

from backend.media.tables import Media
from tests.support.api import bearer, mp_login
from tests.support.asserts import assert_error
from tests.support.images import GPS_MARK, encode, jpeg_with_gps, picture

pytestmark = pytest.mark.asyncio


async def test_multipart_upload_verified_and_served_only_signed(api, app):
    pair = await mp_login(api)
    resp = await api.post(
        "/mp/v1/media", files={"file": ("p.jpg", jpeg_with_gps(), "image/jpeg")}, data={"purpose": "complaint"},
        headers=bearer(pair),
    )
    assert resp.status_code == 201, resp.text
    media = resp.json()
    assert media["status"] == "verified" and media["width"] == 640
    urls = (await api.get(f"/mp/v1/media/{media['id']}/url", headers=bearer(pair))).json()
    async with httpx.AsyncClient() as http:
        stored = await http.get(urls["url"])
        assert stored.status_code == 200 and stored.content[:3] == b"\xff\xd8\xff"
        assert GPS_MARK not in stored.content and b"Exif" not in stored.content
        assert (await http.get(urls["thumbnail_url"])).status_code == 200
    other = await mp_login(api)
    assert_error(await api.get(f"/mp/v1/media/{media['id']}/url", headers=bearer(other)), 403, "FORBIDDEN_OWNER")
    assert_error(await api.get(f"/mp/v1/media/{media['id']}"), 401, "AUTH_REQUIRED")


async def test_spoofed_and_bad_uploads_are_refused(api):
    pair = await mp_login(api)
    text = b"#!/bin/sh\necho this is not a photo\n"
    resp = await api.post("/mp/v1/media", files={"file": ("x.jpg", text, "image/jpeg")}, data={"purpose": "complaint"}, headers=bearer(pair))
    body = assert_error(resp, 400, "IMAGE_REJECTED")
    assert body["detail"]["reason"] == "NOT_AN_IMAGE"
    resp = await api.post("/mp/v1/media", files={"file": ("x.jpg", encode(picture(), ".jpg"), "image/jpeg")}, data={"purpose": "party"}, headers=bearer(pair))
    assert_error(resp, 400, "VALIDATION_ERROR")
    big = b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024)
    resp = await api.post("/mp/v1/media", files={"file": ("big.jpg", big, "image/jpeg")}, data={"purpose": "complaint"}, headers=bearer(pair))
    assert resp.status_code in (400, 413) and resp.json()["code"] in ("IMAGE_REJECTED", "BODY_TOO_LARGE")
    rejected = await Media.count().where((Media.status == "verified") & (Media.owner == uuid.UUID(pair["user"]["id"])))
    assert rejected == 0


async def test_presigned_upload_is_verified_on_complete(api, app):
    pair = await mp_login(api)
    headers = bearer(pair)
    presigned = (await api.post("/mp/v1/media/presign", json={"purpose": "selfie"}, headers=headers)).json()
    assert presigned["method"] == "PUT" and presigned["media"]["status"] == "pending"
    media_id = presigned["media"]["id"]
    assert_error(await api.post(f"/mp/v1/media/{media_id}/complete", headers=headers), 400, "MEDIA_NOT_UPLOADED")
    async with httpx.AsyncClient() as http:
        put = await http.put(presigned["upload_url"], content=encode(picture(), ".png"))
        assert put.status_code == 200
    done = await api.post(f"/mp/v1/media/{media_id}/complete", headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "verified"
    row = await Media.select().where(Media.id == uuid.UUID(media_id)).first()
    assert await app.state.s3.size("photos", row["incoming_key"]) is None  # raw upload removed
    assert await app.state.s3.size("photos", row["key"]) == row["bytes"]

    # A presigned upload of something that is not an image is refused and removed.
    bad = (await api.post("/mp/v1/media/presign", json={"purpose": "selfie"}, headers=headers)).json()
    async with httpx.AsyncClient() as http:
        await http.put(bad["upload_url"], content=b"<html>not an image</html>")
    assert_error(await api.post(f"/mp/v1/media/{bad['media']['id']}/complete", headers=headers), 400, "IMAGE_REJECTED")
    assert_error(await api.post(f"/mp/v1/media/{bad['media']['id']}/complete", headers=headers), 409, "MEDIA_NOT_PENDING")
    other = await mp_login(api)
    assert_error(await api.post(f"/mp/v1/media/{media_id}/complete", headers=bearer(other)), 403, "FORBIDDEN_OWNER")
