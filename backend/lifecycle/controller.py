"""Regulator API for project stages and inspection requests (工序报验). Authorisation lives in the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from backend.credit import dashboard as console
from backend.deps import ArqDep, PrincipalDep, RedisDep, S3Dep, SettingsDep
from backend.lifecycle import assessments, inspections, projectfile, sitepage, siteview, stages
from backend.lifecycle.rules import InspectionStatus
from backend.lifecycle.schemas import (
    DocumentOut,
    AssessmentIn,
    AssessmentOut,
    InspectionAnswer,
    InspectionAudit,
    InspectionCreate,
    InspectionOut,
    InspectionResubmit,
    KeyPersonnelIn,
    KeyPersonnelOut,
    StageOut,
    StageTransitionIn,
)


@dataclass
class DocumentForm:
    file: UploadFile


class StageController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/stage"
    tags = ["lifecycle"]

    @get("/", summary="The project's stage, its history, next moves and what blocks the next acceptance")
    async def get_stage(self, project_id: FromPath[UUID], principal: PrincipalDep) -> StageOut:
        return await stages.get_stage(principal, project_id)

    @post("/", status_code=200, summary="Move the project one stage on (permit, start, acceptances, filing)")
    async def move(self, project_id: FromPath[UUID], data: JSONBody[StageTransitionIn], principal: PrincipalDep
                   ) -> StageOut:
        return await stages.transition(principal, project_id, data)


class InspectionController(Controller):
    path = "/api/v1/inspection-requests"
    tags = ["lifecycle"]

    @post("/", summary="工序报验: the project lead asks for an inspection of a lot or sub-item")
    async def submit(self, data: JSONBody[InspectionCreate], principal: PrincipalDep, settings: SettingsDep,
                     arq: ArqDep) -> InspectionOut:
        return await inspections.submit(settings, arq, principal, data)

    @get("/", summary="A project's inspection requests, newest first")
    async def list_requests(self, principal: PrincipalDep, project_id: FromQuery[UUID],
                            status: FromQuery[InspectionStatus | None] = None) -> list[InspectionOut]:
        return await inspections.list_for_project(principal, project_id, status)

    @get("/{request_id:uuid}")
    async def get_request(self, request_id: FromPath[UUID], principal: PrincipalDep) -> InspectionOut:
        return await inspections.get(principal, request_id)

    @post("/{request_id:uuid}/answer", status_code=200, summary="The supervisor's pass / fail with findings")
    async def answer(self, request_id: FromPath[UUID], data: JSONBody[InspectionAnswer], principal: PrincipalDep,
                     settings: SettingsDep, arq: ArqDep) -> InspectionOut:
        return await inspections.answer(settings, arq, principal, request_id, data)

    @post("/{request_id:uuid}/resubmit", summary="重新报验 after a failure (a new request carries on)")
    async def resubmit(self, request_id: FromPath[UUID], data: JSONBody[InspectionResubmit], principal: PrincipalDep,
                       settings: SettingsDep, arq: ArqDep) -> InspectionOut:
        return await inspections.resubmit(settings, arq, principal, request_id, data)

    @post("/{request_id:uuid}/documents", summary="Attach a document (PDF/JPEG/PNG ≤ 10 MB, multipart 'file')",
          request_max_body_size=inspections.DOCUMENT_MAX_BYTES + 256 * 1024)
    async def add_document(self, request_id: FromPath[UUID], principal: PrincipalDep, s3: S3Dep,
                           data: MultipartBody[DocumentForm]) -> DocumentOut:
        content = await data.file.read(inspections.DOCUMENT_MAX_BYTES + 1)
        return await inspections.add_document(s3, principal, request_id, data.file.filename or "", content)

    @get("/{request_id:uuid}/documents", summary="A request's documents with short-lived download URLs")
    async def documents(self, request_id: FromPath[UUID], principal: PrincipalDep, s3: S3Dep) -> list[DocumentOut]:
        return await inspections.list_documents(s3, principal, request_id)

    @post("/{request_id:uuid}/audit", status_code=200, summary="The station upholds or overturns an answer")
    async def audit(self, request_id: FromPath[UUID], data: JSONBody[InspectionAudit], principal: PrincipalDep
                    ) -> InspectionOut:
        return await inspections.audit(principal, request_id, data)


class SiteViewController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/site"
    tags = ["lifecycle"]

    @get("/", summary="The live site view as JSON (stage, alarms, cameras, workers, complaints, batches, holds)")
    async def site(self, project_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep, s3: S3Dep
                   ) -> dict[str, Any]:
        return await siteview.site_view(settings, s3, principal, project_id)


class SitePageController(Controller):
    """The regulators' page of one site, opened in a browser with a console ticket (POST /api/v1/credit/console-ticket)."""

    path = "/console/projects"
    tags = ["console"]

    @get("/{project_id:uuid}/site", exclude_from_auth=True, summary="The live site view page (console ticket)")
    async def page(self, project_id: FromPath[UUID], settings: SettingsDep, redis: RedisDep, s3: S3Dep,
                   ticket: FromQuery[str] = "") -> Response[str]:
        principal = await console.redeem_ticket(redis, ticket)
        body = sitepage.render_html(await siteview.site_view(settings, s3, principal, project_id))
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class ProjectFileController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/file"
    tags = ["lifecycle"]

    @get("/pdf", summary="The project file (电子档案) for a date range as an indexed PDF")
    async def pdf(self, project_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep, s3: S3Dep,
                  start: FromQuery[date], end: FromQuery[date]) -> Response[bytes]:
        body = await projectfile.build(settings, s3, principal, project_id, start, end, "pdf")
        return Response(body, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="project-file-{start}-{end}.pdf"'})

    @get("/zip", summary="The project file's originals (photos, certificates, PDF, manifest) for a date range")
    async def zip(self, project_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep, s3: S3Dep,
                  start: FromQuery[date], end: FromQuery[date]) -> Response[bytes]:
        body = await projectfile.build(settings, s3, principal, project_id, start, end, "zip")
        return Response(body, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="project-file-{start}-{end}.zip"'})


class AssessmentController(Controller):
    path = "/api/v1/assessments"
    tags = ["lifecycle"]

    @post("/", summary="Enter a third-party assessment of an enterprise on a project (feeds its credit score)")
    async def record(self, data: JSONBody[AssessmentIn], principal: PrincipalDep, settings: SettingsDep, arq: ArqDep
                     ) -> AssessmentOut:
        return await assessments.record(settings, arq, principal, data)

    @get("/", summary="An enterprise's assessments, newest period first")
    async def list_assessments(self, principal: PrincipalDep, enterprise_id: FromQuery[UUID]) -> list[AssessmentOut]:
        return await assessments.list_for_enterprise(principal, enterprise_id)


class KeyPersonnelController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/key-personnel"
    tags = ["lifecycle"]

    @get("/", summary="Key personnel and their certificates; missing or expired ones flagged")
    async def get_personnel(self, project_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep
                            ) -> KeyPersonnelOut:
        return await assessments.get_personnel(settings, principal, project_id)

    @put("/", summary="Replace the project's key personnel (its lead or the district's station)")
    async def replace(self, project_id: FromPath[UUID], data: JSONBody[KeyPersonnelIn], principal: PrincipalDep,
                      settings: SettingsDep) -> KeyPersonnelOut:
        return await assessments.replace_personnel(settings, principal, project_id, data.people)
