"""/mp/v1/complaints: a citizen reports, follows, answers, confirms, rates or reopens."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.complaints import service
from backend.complaints.schemas import (
    CategoryOut,
    ComplaintCitizenView,
    ComplaintCreate,
    ComplaintCreated,
    ComplaintPage,
    InfoIn,
    Rating,
    ReasonIn,
    SimilarComplaint,
)
from backend.deps import ArqDep, Limit, Offset, PrincipalDep, RedisDep, S3Dep, SettingsDep
from backend.geo.coords import CoordType


class MpComplaintController(Controller):
    path = "/mp/v1/complaints"
    tags = ["mp-complaints"]

    @get("/categories", summary="What can be reported")
    async def categories(self, settings: SettingsDep) -> list[CategoryOut]:
        return await service.categories(settings)

    @get("/similar", summary="Open reports like mine (same project, or within 50 m, same category, 7 days)")
    async def similar(
        self,
        principal: PrincipalDep,
        redis: RedisDep,
        category: FromQuery[str],
        lng: Annotated[float, QueryParameter(ge=-180, le=180)],
        lat: Annotated[float, QueryParameter(ge=-90, le=90)],
        coord_type: FromQuery[CoordType] = CoordType.WGS84,
        project_id: FromQuery[UUID | None] = None,
    ) -> list[SimilarComplaint]:
        return await service.similar(redis, principal, category, lng, lat, coord_type, project_id)

    @post("/", summary="Report a problem (photos uploaded first through /mp/v1/media)")
    async def create(
        self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
        data: JSONBody[ComplaintCreate],
    ) -> ComplaintCreated:
        row = await service.create(settings, redis, arq, principal, data)
        return ComplaintCreated(
            id=row["id"], number=row["number"], status=row["status"], district_adcode=row["district"],
            station_id=row["station"], submitted_at=row["submitted_at"], deadline_at=row["deadline_at"],
        )

    @get("/", summary="My reports and the ones I joined")
    async def mine(self, principal: PrincipalDep, limit: Limit = 20, offset: Offset = 0) -> ComplaintPage:
        total, items = await service.mine(principal, limit, offset)
        return ComplaintPage(total=total, limit=limit, offset=offset, items=items)

    @get("/by-project/{project_id:uuid}", summary="For a project's lead or supervisor: cases about their site (no citizen data)")
    async def by_project(
        self, principal: PrincipalDep, project_id: FromPath[UUID], limit: Limit = 20, offset: Offset = 0
    ) -> ComplaintPage:
        total, items = await service.for_project(principal, project_id, limit, offset)
        return ComplaintPage(total=total, limit=limit, offset=offset, items=items)

    @get("/{complaint_id:uuid}", summary="Detail with timeline")
    async def detail(self, principal: PrincipalDep, settings: SettingsDep, s3: S3Dep, complaint_id: FromPath[UUID]) -> ComplaintCitizenView:
        return await service.citizen_view(settings, s3, principal, complaint_id)

    @post("/{complaint_id:uuid}/join", status_code=200, summary="Join an existing report instead of filing a duplicate")
    async def join(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, s3: S3Dep,
                   complaint_id: FromPath[UUID]) -> ComplaintCitizenView:
        await service.join(settings, redis, principal, complaint_id)
        return await service.citizen_view(settings, s3, principal, complaint_id)

    @post("/{complaint_id:uuid}/info", status_code=200, summary="Answer the station's question (the clock resumes)")
    async def info(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[InfoIn]) -> ComplaintCitizenView:
        await service.provide_info(settings, arq, principal, complaint_id, data.message)
        return await service.citizen_view(settings, s3, principal, complaint_id)

    @post("/{complaint_id:uuid}/confirm", status_code=200, summary="Satisfied: close the case")
    async def confirm(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID]) -> ComplaintCitizenView:
        await service.confirm(settings, arq, principal, complaint_id)
        return await service.citizen_view(settings, s3, principal, complaint_id)

    @post("/{complaint_id:uuid}/reopen", status_code=200, summary="Not satisfied (within 7 days of handling)")
    async def reopen(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[ReasonIn]) -> ComplaintCitizenView:
        await service.reopen(settings, arq, principal, complaint_id, data.reason)
        return await service.citizen_view(settings, s3, principal, complaint_id)

    @post("/{complaint_id:uuid}/rating", status_code=200, summary="Satisfaction 1–5 with a comment")
    async def rating(self, principal: PrincipalDep, settings: SettingsDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[Rating]) -> ComplaintCitizenView:
        await service.rate(principal, complaint_id, data.score, data.comment)
        return await service.citizen_view(settings, s3, principal, complaint_id)
