"""Regulator/enterprise API for payrolls (工资单): create, edit, submit → approve → pay, audit trail."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from backend.deps import ArqDep, PrincipalDep, SettingsDep
from backend.workforce import exports, payroll
from backend.workforce.payroll_schemas import (
    ApproveIn,
    CorrectionIn,
    CorrectionOut,
    LinesIn,
    PayrollCreate,
    PayrollEventOut,
    PayrollOut,
)


class PayrollController(Controller):
    path = "/api/v1/payrolls"
    tags = ["payrolls"]

    @post("/", summary="Create a month's payroll for (project, subcontractor) from attendance or entered amounts")
    async def create(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[PayrollCreate]) -> PayrollOut:
        return await payroll.create(settings, principal, data)

    @get("/", summary="A project's payrolls (staff, its general contractor; a subcontractor its own)")
    async def list_payrolls(
        self, principal: PrincipalDep, project_id: FromQuery[UUID], month: FromQuery[str | None] = None
    ) -> list[PayrollOut]:
        return await payroll.list_for(principal, project_id, month)

    @get("/{payroll_id:uuid}")
    async def get_payroll(self, principal: PrincipalDep, payroll_id: FromPath[UUID]) -> PayrollOut:
        return await payroll.get(principal, payroll_id)

    @put("/{payroll_id:uuid}/lines", summary="Replace a draft's lines (amounts entered)")
    async def edit_lines(self, principal: PrincipalDep, settings: SettingsDep, payroll_id: FromPath[UUID], data: JSONBody[LinesIn]) -> PayrollOut:
        return await payroll.edit_lines(settings, principal, payroll_id, data.lines)

    @post("/{payroll_id:uuid}/recompute", status_code=200,
          summary="Compute a draft or submitted payroll again from attendance (the subcontractor, or the GC)")
    async def recompute(self, principal: PrincipalDep, settings: SettingsDep, payroll_id: FromPath[UUID]) -> PayrollOut:
        return await payroll.recompute(settings, principal, payroll_id)

    @post("/{payroll_id:uuid}/submit", status_code=200, summary="Submit a draft (the subcontractor; the GC during a hold)")
    async def submit(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, payroll_id: FromPath[UUID]) -> PayrollOut:
        return await payroll.transition(settings, arq, principal, payroll_id, "submit")

    @post("/{payroll_id:uuid}/approve", status_code=200, summary="Approve a submitted payroll (the general contractor)")
    async def approve(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, payroll_id: FromPath[UUID],
                      data: JSONBody[ApproveIn | None] = None) -> PayrollOut:
        return await payroll.transition(settings, arq, principal, payroll_id, "approve", data.reason if data else "")

    @post("/{payroll_id:uuid}/pay", status_code=200, summary="Release the wages (the subcontractor, or the GC: 总包代发)")
    async def pay(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, payroll_id: FromPath[UUID]) -> PayrollOut:
        return await payroll.transition(settings, arq, principal, payroll_id, "pay")

    @post("/{payroll_id:uuid}/corrections", summary="Correct a paid line's days or rate with a reason (the subcontractor "
          "or the GC): the difference is paid or taken back on the next payroll")
    async def correct(self, principal: PrincipalDep, payroll_id: FromPath[UUID], data: JSONBody[CorrectionIn]) -> CorrectionOut:
        return await payroll.correct(principal, payroll_id, data)

    @get("/{payroll_id:uuid}/corrections", summary="A paid payroll's corrections, or those a later payroll carries")
    async def list_corrections(self, principal: PrincipalDep, payroll_id: FromPath[UUID]) -> list[CorrectionOut]:
        return await payroll.corrections(principal, payroll_id)

    @get("/{payroll_id:uuid}/events", summary="The payroll's audit trail")
    async def list_events(self, principal: PrincipalDep, payroll_id: FromPath[UUID]) -> list[PayrollEventOut]:
        return await payroll.events(principal, payroll_id)


class WorkforceExportController(Controller):
    path = "/api/v1/workforce/exports"
    tags = ["workforce-exports"]

    @get("/", summary="All six national-standard objects for a project and month (JSON)")
    async def export_all(
        self, principal: PrincipalDep, settings: SettingsDep, project_id: FromQuery[UUID], month: FromQuery[str]
    ) -> dict[str, list[dict[str, Any]]]:
        return await exports.export(settings, principal, project_id, month)

    @get("/{name:str}", summary="One object (WorkerMaster, …, PayRollDetail) as JSON, or CSV with format=csv")
    async def export_one(
        self, principal: PrincipalDep, settings: SettingsDep, name: FromPath[str], project_id: FromQuery[UUID],
        month: FromQuery[str], format: FromQuery[str] = "json",
    ) -> Response[Any]:
        rows = await exports.export_one(settings, principal, project_id, month, name)
        if format == "csv":
            return Response(exports.to_csv(rows), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}-{month}.csv"'})
        return Response(rows)
