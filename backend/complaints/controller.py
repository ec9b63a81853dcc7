"""Regulator API for complaints: the station queue, case actions, the SLA dashboard, CSV export."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from backend.complaints import dashboard, service
from backend.complaints.rules import Status
from backend.complaints.schemas import (
    CategoryIn,
    CategoryOut,
    ComplaintBrief,
    ComplaintPage,
    ComplaintStaffView,
    DashboardOut,
    DutyIn,
    InfoIn,
    MergeIn,
    ReasonIn,
    ResolveIn,
    TransferIn,
)
from backend.deps import ArqDep, Limit, Offset, PrincipalDep, S3Dep, SettingsDep
from backend.errors import BadRequest


class ComplaintController(Controller):
    path = "/api/v1/complaints"
    tags = ["complaints"]

    @get("/", summary="Station queue (open cases by default), oldest deadline first")
    async def list_queue(
        self,
        principal: PrincipalDep,
        status: FromQuery[Status | None] = None,
        district_adcode: FromQuery[int | None] = None,
        category: FromQuery[str | None] = None,
        overdue: FromQuery[bool | None] = None,
        mine: FromQuery[bool] = False,
        city_queue: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ComplaintPage:
        total, items = await service.queue(
            principal, status=status, district=district_adcode, category=category, overdue=overdue,
            mine_only=mine, city_queue=city_queue, limit=limit, offset=offset,
        )
        return ComplaintPage(total=total, limit=limit, offset=offset, items=items)

    @get("/dashboard", summary="On-time handling / closure, satisfaction, callback verification, handling time")
    async def dashboard(
        self,
        principal: PrincipalDep,
        settings: SettingsDep,
        district_adcode: FromQuery[int | None] = None,
        category: FromQuery[str | None] = None,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
    ) -> DashboardOut:
        return await dashboard.dashboard(settings, principal, district_adcode, category, start, end)

    @get("/overdue", summary="Open cases past their deadline")
    async def overdue(self, principal: PrincipalDep, district_adcode: FromQuery[int | None] = None) -> list[dict[str, Any]]:
        return await dashboard.overdue(principal, district_adcode)

    @get("/export.csv", summary="The period's complaints as CSV", media_type="text/csv")
    async def export(
        self, principal: PrincipalDep, settings: SettingsDep, start: FromQuery[datetime], end: FromQuery[datetime],
        district_adcode: FromQuery[int | None] = None,
    ) -> Response[str]:
        body = await dashboard.export_csv(settings, principal, district_adcode, start, end)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="complaints.csv"'})

    @put("/categories/{code:str}", summary="Create or change a category (an Open311 service) and its SLA")
    async def put_category(
        self, principal: PrincipalDep, settings: SettingsDep, code: FromPath[str], data: JSONBody[CategoryIn]
    ) -> CategoryOut:
        if not re.fullmatch(r"[a-z0-9_]{2,32}", code):
            raise BadRequest("VALIDATION_ERROR", detail="code: 2–32 of a-z 0-9 _")
        return await service.upsert_category(
            settings, principal, code, data.name, data.description, data.sla_hours, data.active, data.sort
        )

    @put("/duty", summary="Take new cases or not (an admin may set an inspector's duty)")
    async def duty(self, principal: PrincipalDep, data: JSONBody[DutyIn]) -> dict[str, Any]:
        return await service.set_duty(principal, data.user_id, data.on_duty)

    @get("/{complaint_id:uuid}")
    async def detail(self, principal: PrincipalDep, s3: S3Dep, complaint_id: FromPath[UUID]) -> ComplaintStaffView:
        return await service.staff_view(s3, principal, complaint_id)

    async def _view(self, s3: Any, principal: Any, row: dict[str, Any]) -> ComplaintStaffView:
        return await service.staff_view(s3, principal, row["id"])

    @post("/{complaint_id:uuid}/accept", status_code=200)
    async def accept(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.accept(settings, arq, principal, complaint_id))

    @post("/{complaint_id:uuid}/start", status_code=200)
    async def start(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.start(settings, arq, principal, complaint_id))

    @post("/{complaint_id:uuid}/request-info", status_code=200, summary="Ask the citizen; the SLA clock pauses")
    async def request_info(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[ReasonIn]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.request_info(settings, arq, principal, complaint_id, data.reason))

    @post("/{complaint_id:uuid}/resume", status_code=200, summary="Resume the SLA clock")
    async def resume(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[ReasonIn]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.resume(settings, arq, principal, complaint_id, data.reason))

    @post("/{complaint_id:uuid}/resolve", status_code=200, summary="Handled: notes and after-photos")
    async def resolve(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[ResolveIn]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.resolve(settings, arq, principal, complaint_id, data.notes, data.photo_ids))

    @post("/{complaint_id:uuid}/reject", status_code=200, summary="Not accepted, with the reason told to the citizen")
    async def reject(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[ReasonIn]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.reject(settings, arq, principal, complaint_id, data.reason))

    @post("/{complaint_id:uuid}/transfer", status_code=200, summary="To another inspector or district (the clock runs on)")
    async def transfer(
        self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID],
        data: JSONBody[TransferIn],
    ) -> ComplaintStaffView | ComplaintBrief:
        row = await service.transfer(settings, arq, principal, complaint_id, data)
        # Bounced out of the caller's district: they may no longer see the case, only the receipt.
        return await self._view(s3, principal, row) if service.staff_can(principal, row) else service.brief(row)

    @post("/{complaint_id:uuid}/merge", status_code=200, summary="A duplicate of another open complaint")
    async def merge(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, s3: S3Dep, complaint_id: FromPath[UUID], data: JSONBody[MergeIn]) -> ComplaintStaffView:
        return await self._view(s3, principal, await service.merge(settings, arq, principal, complaint_id, data.into_id, data.reason))

    @post("/{complaint_id:uuid}/comments", status_code=201, summary="An internal note on the timeline")
    async def add_comment(self, principal: PrincipalDep, complaint_id: FromPath[UUID], data: JSONBody[InfoIn]) -> dict[str, str]:
        await service.comment(principal, complaint_id, data.message)
        return {"status": "ok"}
