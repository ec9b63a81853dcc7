"""Regulator / project-lead API for site cameras: register, calibrate, upload a frame, list alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter

from backend.cameras import review, service
from backend.cameras.schemas import (
    AlertOut,
    AlertReview,
    CalibrationIn,
    CameraAlertStats,
    CameraCreate,
    CameraOut,
    CameraUpdate,
    FrameOut,
    ReviewOut,
)
from backend.deps import ArqDep, Limit, Offset, PrincipalDep, RedisDep, S3Dep, SettingsDep
from backend.errors import BadRequest

FRAME_MAX_BYTES = 10 * 1024 * 1024
WaitS = Annotated[float, QueryParameter(ge=0, le=30, description="wait up to this long for the analysis")]
Days = Annotated[int, QueryParameter(ge=1, le=365, description="period in days")]


@dataclass
class FrameForm:
    file: UploadFile


class CameraController(Controller):
    path = "/api/v1/cameras"
    tags = ["cameras"]

    @post("/", summary="Register a camera on a project (staff of its district or its lead)")
    async def create(self, principal: PrincipalDep, data: JSONBody[CameraCreate]) -> CameraOut:
        return await service.create_camera(principal, data)

    @get("/", summary="A project's cameras")
    async def list_cameras(self, principal: PrincipalDep, project_id: FromQuery[UUID]) -> list[CameraOut]:
        return await service.list_cameras(principal, project_id)

    @get("/alerts", summary="A project's camera alerts (no helmet, spacing beyond the plan), newest first")
    async def alerts(
        self, s3: S3Dep, principal: PrincipalDep, project_id: FromQuery[UUID], camera_id: FromQuery[UUID | None] = None,
        rule: FromQuery[str | None] = None, since: FromQuery[datetime | None] = None, limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[AlertOut]:
        return await service.list_alerts(s3, principal, project_id, camera_id, rule, since, limit, offset)

    @post("/alerts/{alert_id:uuid}/review", status_code=200,
          summary="Confirm or dismiss an alert, drawing missed boxes (the district's station or the project's lead)")
    async def review_alert(
        self, settings: SettingsDep, s3: S3Dep, principal: PrincipalDep, alert_id: FromPath[UUID],
        data: JSONBody[AlertReview],
    ) -> ReviewOut:
        return await review.review_alert(settings, s3, principal, alert_id, data)

    @get("/alert-stats", summary="Per camera: alert rate, reviews, dismissed share, flagged for calibration")
    async def alert_stats(
        self, settings: SettingsDep, principal: PrincipalDep, project_id: FromQuery[UUID], days: Days = 30,
    ) -> list[CameraAlertStats]:
        return await review.alert_stats(settings, principal, project_id, days)

    @get("/{camera_id:uuid}/labels/export", summary="The camera's labelled real frames, YOLO format (zip; station only)")
    async def export_labels(self, s3: S3Dep, principal: PrincipalDep, camera_id: FromPath[UUID]) -> Response[bytes]:
        body = await review.export_labels(s3, principal, camera_id)
        return Response(body, media_type="application/zip", headers={
            "content-disposition": f'attachment; filename="camera-{camera_id}-labels.zip"'})

    @get("/frames/{frame_id:uuid}", summary="A frame and its analysis (wait_s: wait for a queued one)")
    async def frame(self, s3: S3Dep, principal: PrincipalDep, frame_id: FromPath[UUID], wait_s: WaitS = 0.0) -> FrameOut:
        return await service.get_frame(s3, principal, frame_id, wait_s)

    @get("/{camera_id:uuid}")
    async def get_camera(self, principal: PrincipalDep, camera_id: FromPath[UUID]) -> CameraOut:
        return await service.get_camera(principal, camera_id)

    @patch("/{camera_id:uuid}", summary="Change a camera (URL, schedule, plan value, enabled)")
    async def update(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, camera_id: FromPath[UUID],
                     data: JSONBody[CameraUpdate]) -> CameraOut:
        return await service.update_camera(principal, camera_id, data, settings=settings, arq=arq)

    @put("/{camera_id:uuid}/calibration", summary="Set the camera's calibration (target corners, tube widths or a scale)")
    async def calibrate(self, principal: PrincipalDep, camera_id: FromPath[UUID], data: JSONBody[CalibrationIn]) -> CameraOut:
        return await service.set_calibration(principal, camera_id, data)

    @post("/{camera_id:uuid}/frames", summary="Upload a frame (multipart 'file') for analysis by the vision worker",
          request_max_body_size=FRAME_MAX_BYTES + 256 * 1024)
    async def upload(
        self, settings: SettingsDep, redis: RedisDep, s3: S3Dep, principal: PrincipalDep, camera_id: FromPath[UUID],
        data: MultipartBody[FrameForm], wait_s: WaitS = 10.0,
    ) -> Response[FrameOut]:
        content = await data.file.read(FRAME_MAX_BYTES + 1)
        if not content or len(content) > FRAME_MAX_BYTES:
            raise BadRequest("IMAGE_REJECTED", detail={"reason": "SIZE"})
        frame_id = await service.submit_frame(settings, redis, s3, principal, camera_id, content)
        frame = await service.get_frame(s3, principal, frame_id, wait_s)
        return Response(frame, status_code=200 if frame.status in ("done", "failed") else 202)
