"""Media (图片): every uploaded photo is verified on the server before anything may use it.

Two ways in: the API receives the bytes (``upload``), or the client PUTs to a presigned URL and
then asks us to ``complete`` — we fetch the object, verify and re-encode it, and delete the raw
upload. moto's S3 (and a presigned PUT in general) enforces no size or type: the check is ours.
Photos are private: only short-lived signed URLs, given by the owner's own request or by the domain
that attached the photo after its own access check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis

from backend import ratelimit
from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.media import images
from backend.media.schemas import MediaOut, MediaUrl, PresignOut, PresignRequest, Purpose
from backend.media.tables import Media

BUCKET = "photos"
URL_TTL_S = 300
UPLOADS_PER_HOUR = 120


def _out(row: dict[str, Any]) -> MediaOut:
    return MediaOut(
        id=row["id"],
        purpose=Purpose(row["purpose"]),
        status=row["status"],
        width=row["width"],
        height=row["height"],
        bytes=row["bytes"],
        sha256=row["sha256"],
        reject_reason=row["reject_reason"],
        created_at=row["created_at"],
    )


def _keys(media_id: UUID, purpose: Purpose) -> tuple[str, str]:
    now = utcnow()
    base = f"{purpose.value}/{now:%Y/%m}/{media_id}"
    return f"{base}.jpg", f"{base}_thumb.jpg"


async def _row(media_id: UUID) -> dict[str, Any]:
    row = await Media.select().where(Media.id == media_id).first()
    if row is None:
        raise NotFound("MEDIA_NOT_FOUND")
    return row


async def _store_verified(s3: S3Client, media_id: UUID, purpose: Purpose, data: bytes) -> dict[str, Any]:
    """Verify bytes, store the clean JPEG and thumbnail, mark the row verified (or rejected)."""
    try:
        image = await asyncio.to_thread(images.verify_image, data)
    except images.ImageRejected as rejected:
        await Media.update({Media.status: "rejected", Media.reject_reason: rejected.reason}).where(Media.id == media_id)
        raise BadRequest("IMAGE_REJECTED", detail={"reason": rejected.reason, "why": rejected.detail}) from rejected
    key, thumb_key = _keys(media_id, purpose)
    await s3.put_bytes(BUCKET, key, image.jpeg, "image/jpeg")
    await s3.put_bytes(BUCKET, thumb_key, image.thumbnail, "image/jpeg")
    rows = await Media.update(
        {
            Media.status: "verified",
            Media.key: key,
            Media.thumb_key: thumb_key,
            Media.width: image.width,
            Media.height: image.height,
            Media.bytes: len(image.jpeg),
            Media.sha256: image.sha256,
            Media.dhash: image.dhash,
            Media.verified_at: utcnow(),
        }
    ).where(Media.id == media_id).returning(*Media.all_columns())
    return rows[0]


async def upload(s3: S3Client, redis: Redis, owner: Principal, purpose: Purpose, data: bytes) -> MediaOut:
    """Receive the bytes through the API, verify, store."""
    await ratelimit.hit(redis, f"media:{owner.id}", UPLOADS_PER_HOUR, 3600)
    media_id = uuid4()
    await Media.insert(Media(id=media_id, owner=owner.id, purpose=purpose.value, status="pending"))
    return _out(await _store_verified(s3, media_id, purpose, data))


async def presign(s3: S3Client, redis: Redis, owner: Principal, data: PresignRequest) -> PresignOut:
    """A presigned PUT for a direct upload; the object counts only after ``complete`` verifies it."""
    await ratelimit.hit(redis, f"media:{owner.id}", UPLOADS_PER_HOUR, 3600)
    media_id = uuid4()
    incoming = f"incoming/{owner.id}/{media_id}"
    await Media.insert(
        Media(id=media_id, owner=owner.id, purpose=data.purpose.value, status="pending", incoming_key=incoming)
    )
    url = await s3.presigned_put(BUCKET, incoming, URL_TTL_S)
    return PresignOut(
        media=_out(await _row(media_id)), upload_url=url, method="PUT", expires_in=URL_TTL_S, max_bytes=images.MAX_BYTES
    )


async def complete(s3: S3Client, owner: Principal, media_id: UUID) -> MediaOut:
    """Fetch the presigned upload, verify and re-encode it, delete the raw object."""
    row = await _row(media_id)
    access_policy.require(owner, "own_media", row)
    if row["status"] == "verified":
        return _out(row)
    if row["status"] != "pending" or not row["incoming_key"]:
        raise Conflict("MEDIA_NOT_PENDING", detail={"status": row["status"]})
    size = await s3.size(BUCKET, row["incoming_key"])
    if size is None:
        raise BadRequest("MEDIA_NOT_UPLOADED")
    if size > images.MAX_BYTES:
        await s3.remove(BUCKET, row["incoming_key"])
        await Media.update({Media.status: "rejected", Media.reject_reason: "TOO_LARGE"}).where(Media.id == media_id)
        raise BadRequest("IMAGE_REJECTED", detail={"reason": "TOO_LARGE", "why": f"{size} bytes"})
    data = await s3.get_bytes(BUCKET, row["incoming_key"])
    try:
        stored = await _store_verified(s3, media_id, Purpose(row["purpose"]), data)
    finally:
        await s3.remove(BUCKET, row["incoming_key"])
    return _out(stored)


async def get(owner: Principal, media_id: UUID) -> MediaOut:
    row = await _row(media_id)
    access_policy.require(owner, "own_media", row)
    return _out(row)


async def signed_urls(s3: S3Client, media_id: UUID, ttl_s: int = URL_TTL_S) -> MediaUrl:
    """Short-lived GET URLs of a verified photo. Callers check access first (owner or attaching domain)."""
    row = await _row(media_id)
    if row["status"] != "verified":
        raise Conflict("MEDIA_NOT_VERIFIED")
    url, thumb = await asyncio.gather(
        s3.presigned_get(BUCKET, row["key"], ttl_s), s3.presigned_get(BUCKET, row["thumb_key"], ttl_s)
    )
    return MediaUrl(id=row["id"], url=url, thumbnail_url=thumb, expires_in=ttl_s)


async def own_signed_urls(s3: S3Client, owner: Principal, media_id: UUID) -> MediaUrl:
    row = await _row(media_id)
    access_policy.require(owner, "own_media", row)
    return await signed_urls(s3, media_id)


async def attach(
    owner_id: UUID, media_ids: Sequence[UUID], purpose: Purpose, subject: tuple[str, str]
) -> list[UUID]:
    """Bind verified photos of this owner and purpose to a subject, each photo to one subject only.

    Call inside the subject's own transaction: a refused photo raises and the transaction rolls back.
    """
    ids = list(dict.fromkeys(media_ids))
    if not ids:
        return []
    # Fast path: one statement binds them all when every photo qualifies.
    bound = await Media.update({Media.attached_type: subject[0], Media.attached_id: subject[1]}).where(
        Media.id.is_in(ids) & (Media.owner == owner_id) & (Media.status == "verified") & (Media.purpose == purpose.value)
        & ((Media.attached_id == "") | (Media.attached_id == subject[1]))
    ).returning(Media.id)
    if len(bound) == len(ids):
        return ids
    # Otherwise say which photo is wrong and why (the caller's transaction rolls the partial update back).
    rows = await Media.select(Media.id, Media.owner, Media.purpose, Media.status, Media.attached_id).where(
        Media.id.is_in(ids)
    )
    found = {r["id"]: r for r in rows}
    for media_id in ids:
        row = found.get(media_id)
        if row is None:
            raise NotFound("MEDIA_NOT_FOUND", detail={"media_id": str(media_id)})
        access_policy.require(Principal(kind="user", id=owner_id), "own_media",
                              {"owner": row["owner"], "media_id": str(media_id)})
        if row["status"] != "verified":
            raise Conflict("MEDIA_NOT_VERIFIED", detail={"media_id": str(media_id)})
        if row["purpose"] != purpose.value:
            raise BadRequest("MEDIA_WRONG_PURPOSE", detail={"media_id": str(media_id), "expected": purpose.value})
        if row["attached_id"] and row["attached_id"] != subject[1]:
            raise Conflict("MEDIA_ALREADY_USED", detail={"media_id": str(media_id)})
    raise Conflict("MEDIA_ALREADY_USED")  # changed while we looked


def attachable_sql(owner: str, purpose: str, subject_id: str) -> str:
    """attach()'s rule as one SQL condition on a media row, for a caller binding one photo in its own statement.

    The arguments are SQL placeholders or literals (e.g. "$13", "'selfie'", "$1::text"); keep in step with
    attach(), which the caller uses to say why a photo was refused.
    """
    return (f"owner = {owner} AND status = 'verified' AND purpose = {purpose}"
            f" AND (attached_id = '' OR attached_id = {subject_id})")


async def attached_to(subject: tuple[str, str]) -> list[UUID]:
    rows = await Media.select(Media.id).where(
        (Media.attached_type == subject[0]) & (Media.attached_id == subject[1])
    ).order_by(Media.created_at)
    return [r["id"] for r in rows]
