"""/mp/v1/media: upload photos (multipart, as wx.uploadFile sends them) or by presigned PUT."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody, MultipartBody

from backend.auth.principal import Role
from backend.deps import PrincipalDep, RedisDep, S3Dep
from backend.errors import BadRequest
from backend.media import images, service
from backend.media.schemas import MediaOut, MediaUrl, PresignOut, PresignRequest, Purpose

_ROLES = tuple(Role)


@dataclass
class UploadForm:
    file: UploadFile
    purpose: Purpose


class MpMediaController(Controller):
    path = "/mp/v1/media"
    tags = ["mp-media"]

    @post(
        "/",
        summary="Upload one photo (multipart field 'file', field 'purpose'); verified before it is kept",
        request_max_body_size=images.MAX_BYTES + 256 * 1024,
    )
    async def upload(
        self, principal: PrincipalDep, s3: S3Dep, redis: RedisDep, data: MultipartBody[UploadForm]
    ) -> MediaOut:
        principal.require_role(*_ROLES)
        content = await data.file.read(images.MAX_BYTES + 1)
        if not content:
            raise BadRequest("IMAGE_REJECTED", detail={"reason": "EMPTY"})
        return await service.upload(s3, redis, principal, data.purpose, content)

    @post("/presign", summary="A presigned PUT for a direct upload to storage")
    async def presign(
        self, principal: PrincipalDep, s3: S3Dep, redis: RedisDep, data: JSONBody[PresignRequest]
    ) -> PresignOut:
        principal.require_role(*_ROLES)
        return await service.presign(s3, redis, principal, data)

    @post("/{media_id:uuid}/complete", status_code=200, summary="Verify a presigned upload")
    async def complete(self, principal: PrincipalDep, s3: S3Dep, media_id: FromPath[UUID]) -> MediaOut:
        principal.require_role(*_ROLES)
        return await service.complete(s3, principal, media_id)

    @get("/{media_id:uuid}")
    async def get_media(self, principal: PrincipalDep, media_id: FromPath[UUID]) -> MediaOut:
        return await service.get(principal, media_id)

    @get("/{media_id:uuid}/url", summary="Short-lived signed URLs of my photo")
    async def url(self, principal: PrincipalDep, s3: S3Dep, media_id: FromPath[UUID]) -> MediaUrl:
        return await service.own_signed_urls(s3, principal, media_id)
