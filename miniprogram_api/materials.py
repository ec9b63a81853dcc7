"""/mp/v1/materials: anyone signed in scans a label (string or photo) and sees the public trace view."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.params import JSONBody, MultipartBody

from backend.deps import ArqDep, PrincipalDep, RedisDep, SettingsDep
from backend.errors import BadRequest
from backend.materials import trace
from backend.materials.controller import PHOTO_MAX_BYTES, FileForm, json_bytes
from backend.materials.schemas import ScanIn


class MpMaterialController(Controller):
    path = "/mp/v1/materials"
    tags = ["mp-materials"]

    @post("/scan", status_code=200, summary="The scanned string (wx.scanCode result) → the trace view")
    async def scan(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                   data: JSONBody[ScanIn]) -> Response[bytes]:
        return json_bytes(await trace.scan(settings, redis, principal, data, arq))

    @post("/scan/photo", status_code=200, summary="A photo of a label (multipart 'file'), decoded on the server",
          request_max_body_size=PHOTO_MAX_BYTES + 256 * 1024)
    async def scan_photo(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                         data: MultipartBody[FileForm]) -> Response[bytes]:
        content = await data.file.read(PHOTO_MAX_BYTES + 1)
        if not content or len(content) > PHOTO_MAX_BYTES:
            raise BadRequest("IMAGE_REJECTED", detail={"reason": "SIZE"})
        return json_bytes(await trace.scan_photo(settings, redis, principal, content, arq=arq))
