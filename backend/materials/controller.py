"""Regulator API for materials: batches, the trace chain, lab reports, labels, scans, alerts, credit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from backend.deps import ArqDep, Limit, Offset, PrincipalDep, RedisDep, S3Dep, SettingsDep
from backend.errors import BadRequest
from backend.materials import decisions, lots, reports, service, standards, trace
from backend.materials.rules import Status
from backend.materials.schemas import (
    AlertOut,
    BatchCreate,
    BatchOut,
    BatchPage,
    CorrectIn,
    CreditEventOut,
    EntryInspectionIn,
    LabelOut,
    LabelsIn,
    LotOut,
    ReportIn,
    ReportOut,
    RevokeIn,
    SamplingIn,
    ScanIn,
    TransportLegIn,
    UseDecisionIn,
    UseDecisionOut,
    UseIn,
    VoidIn,
)

PHOTO_MAX_BYTES = 10 * 1024 * 1024


@dataclass
class FileForm:
    file: UploadFile


def json_bytes(body: bytes) -> Response[bytes]:
    return Response(body, media_type="application/json")


class MaterialController(Controller):
    path = "/api/v1/materials"
    tags = ["materials"]

    @get("/standards", summary="The rule sets reports are compared with (limits, clauses, sources)")
    async def rule_sets(self, principal: PrincipalDep) -> list[dict[str, Any]]:
        return standards.describe()

    @post("/batches", summary="Register a batch delivered to a project (its batch label is issued)")
    async def create(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[BatchCreate]) -> BatchOut:
        return await service.create_batch(settings, principal, data)

    @get("/batches", summary="A project's batches, newest first")
    async def list_batches(self, principal: PrincipalDep, project_id: FromQuery[UUID],
                           status: FromQuery[Status | None] = None, limit: Limit = 50, offset: Offset = 0
                           ) -> BatchPage:
        total, items = await service.list_batches(principal, project_id, status, limit, offset)
        return BatchPage(total=total, items=items)

    @get("/batches/{batch_id:uuid}")
    async def get_batch(self, principal: PrincipalDep, batch_id: FromPath[UUID]) -> BatchOut:
        return await service.get_batch(principal, batch_id)

    @get("/batches/{batch_id:uuid}/timeline", summary="Every state change and chain record (the audit trail)")
    async def timeline(self, principal: PrincipalDep, batch_id: FromPath[UUID]) -> list[dict[str, Any]]:
        return await service.timeline(principal, batch_id)

    @get("/batches/{batch_id:uuid}/trace", summary="The trace view (as a scan shows it)")
    async def trace_view(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep,
                         batch_id: FromPath[UUID]) -> Response[bytes]:
        await service.get_batch(principal, batch_id)
        return json_bytes(await trace.trace_bytes(settings, redis, batch_id))

    @post("/batches/{batch_id:uuid}/certificate", summary="Upload the factory certificate (PDF/JPEG/PNG, multipart 'file')",
          request_max_body_size=service.CERTIFICATE_MAX_BYTES + 256 * 1024)
    async def certificate(self, principal: PrincipalDep, settings: SettingsDep, s3: S3Dep, redis: RedisDep,
                          batch_id: FromPath[UUID], data: MultipartBody[FileForm]) -> BatchOut:
        content = await data.file.read(service.CERTIFICATE_MAX_BYTES + 1)
        return await service.upload_certificate(s3, settings, redis, principal, batch_id, content)

    @get("/batches/{batch_id:uuid}/certificate", summary="A short-lived download URL of the certificate")
    async def certificate_url(self, principal: PrincipalDep, settings: SettingsDep, s3: S3Dep,
                              batch_id: FromPath[UUID]) -> dict[str, str]:
        return {"url": await service.certificate_url(s3, settings, principal, batch_id)}

    @post("/batches/{batch_id:uuid}/transport-legs", summary="A transport leg (vehicle, from, to, times, GPS track)")
    async def transport(self, principal: PrincipalDep, redis: RedisDep, batch_id: FromPath[UUID],
                        data: JSONBody[TransportLegIn]) -> dict[str, Any]:
        return await service.add_transport_leg(redis, principal, batch_id, data)

    @post("/batches/{batch_id:uuid}/entry-inspection", status_code=200, summary="进场验收: accepted or rejected")
    async def entry(self, principal: PrincipalDep, redis: RedisDep, batch_id: FromPath[UUID],
                    data: JSONBody[EntryInspectionIn]) -> BatchOut:
        return await service.record_entry_inspection(redis, principal, batch_id, data)

    @post("/batches/{batch_id:uuid}/samplings", status_code=200, summary="见证取样 (the witness records it)")
    async def sampling(self, principal: PrincipalDep, redis: RedisDep, batch_id: FromPath[UUID],
                       data: JSONBody[SamplingIn]) -> BatchOut:
        return await service.record_sampling(redis, principal, batch_id, data)

    @post("/batches/{batch_id:uuid}/reports", summary="A lab records a test report; it is judged at once")
    async def report(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                     batch_id: FromPath[UUID], data: JSONBody[ReportIn]) -> ReportOut:
        return await reports.record_report(settings, redis, arq, principal, batch_id, data)

    @get("/batches/{batch_id:uuid}/reports", summary="Every report, voided and superseded ones included")
    async def list_reports(self, principal: PrincipalDep, batch_id: FromPath[UUID]) -> list[ReportOut]:
        return await reports.list_reports(principal, batch_id)

    @post("/reports/{report_id:uuid}/void", status_code=200, summary="The issuing lab voids a report, with a reason")
    async def void_report(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                          report_id: FromPath[UUID], data: JSONBody[VoidIn]) -> ReportOut:
        return await reports.void_report(settings, redis, arq, principal, report_id, data.reason)

    @post("/reports/{report_id:uuid}/correct", summary="The issuing lab replaces a report with a corrected one")
    async def correct_report(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                             report_id: FromPath[UUID], data: JSONBody[CorrectIn]) -> ReportOut:
        return await reports.correct_report(settings, redis, arq, principal, report_id, data)

    @post("/batches/{batch_id:uuid}/use-decisions",
          summary="The project's supervisor accepts (or not) a partially checked batch for use, with a reason")
    async def decide_use(self, principal: PrincipalDep, redis: RedisDep, batch_id: FromPath[UUID],
                         data: JSONBody[UseDecisionIn]) -> UseDecisionOut:
        return await decisions.decide_use(redis, principal, batch_id, data)

    @get("/batches/{batch_id:uuid}/use-decisions")
    async def use_decisions(self, principal: PrincipalDep, batch_id: FromPath[UUID]) -> list[UseDecisionOut]:
        return await decisions.list_decisions(principal, batch_id)

    @get("/concrete-lots", summary="A project's concrete inspection lots (GB/T 50107) and their assessment")
    async def concrete_lots(self, principal: PrincipalDep, project_id: FromQuery[UUID]) -> list[LotOut]:
        return await lots.list_lots(principal, project_id)

    @post("/batches/{batch_id:uuid}/uses", summary="Where the batch was used (refused for a batch not passed)")
    async def use(self, principal: PrincipalDep, redis: RedisDep, batch_id: FromPath[UUID],
                  data: JSONBody[UseIn]) -> dict[str, Any]:
        return await service.record_use(redis, principal, batch_id, data)

    @post("/batches/{batch_id:uuid}/removal", status_code=200, summary="退场 of a non-conforming batch")
    async def removal(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                      batch_id: FromPath[UUID], data: JSONBody[RevokeIn]) -> BatchOut:
        return await service.remove_batch(settings, redis, arq, principal, batch_id, data.reason)

    @post("/batches/{batch_id:uuid}/labels", status_code=200, summary="Issue bundle labels 1..n (idempotent)")
    async def issue_labels(self, principal: PrincipalDep, settings: SettingsDep, batch_id: FromPath[UUID],
                           data: JSONBody[LabelsIn]) -> list[LabelOut]:
        return await service.issue_labels(settings, principal, batch_id, data.bundles)

    @get("/batches/{batch_id:uuid}/labels")
    async def labels(self, principal: PrincipalDep, settings: SettingsDep, batch_id: FromPath[UUID]) -> list[LabelOut]:
        return await service.list_labels(settings, principal, batch_id)

    @get("/batches/{batch_id:uuid}/labels/sheet.svg", summary="A printable A4 sheet of the batch's labels",
         media_type="image/svg+xml")
    async def sheet(self, principal: PrincipalDep, settings: SettingsDep, batch_id: FromPath[UUID]) -> Response[bytes]:
        return Response(await service.label_sheet(settings, principal, batch_id), media_type="image/svg+xml")

    @get("/labels/{label_id:uuid}/qr.png", media_type="image/png")
    async def label_png(self, principal: PrincipalDep, settings: SettingsDep, label_id: FromPath[UUID]
                        ) -> Response[bytes]:
        return Response(await service.label_image(settings, principal, label_id, "png"), media_type="image/png")

    @get("/labels/{label_id:uuid}/qr.svg", media_type="image/svg+xml")
    async def label_svg(self, principal: PrincipalDep, settings: SettingsDep, label_id: FromPath[UUID]
                        ) -> Response[bytes]:
        return Response(await service.label_image(settings, principal, label_id, "svg"), media_type="image/svg+xml")

    @post("/labels/{label_id:uuid}/revoke", status_code=200, summary="Revoke a label (lost, damaged, misused)")
    async def revoke(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep,
                     label_id: FromPath[UUID], data: JSONBody[RevokeIn]) -> LabelOut:
        return await service.revoke_label(settings, redis, principal, label_id, data.reason)

    @post("/scan", status_code=200, summary="Scan a label: the trace view, with any counterfeit/diversion alert")
    async def scan(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                   data: JSONBody[ScanIn]) -> Response[bytes]:
        return json_bytes(await trace.scan(settings, redis, principal, data, arq))

    @post("/scan/photo", status_code=200, summary="Scan a photo of a label (multipart 'file'), decoded on the server",
          request_max_body_size=PHOTO_MAX_BYTES + 256 * 1024)
    async def scan_photo(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, arq: ArqDep,
                         data: MultipartBody[FileForm]) -> Response[bytes]:
        content = await data.file.read(PHOTO_MAX_BYTES + 1)
        if not content or len(content) > PHOTO_MAX_BYTES:
            raise BadRequest("IMAGE_REJECTED", detail={"reason": "SIZE"})
        return json_bytes(await trace.scan_photo(settings, redis, principal, content, arq=arq))

    @get("/alerts", summary="Counterfeit, revoked-label and diversion alerts (station staff)")
    async def alerts(self, principal: PrincipalDep, district_adcode: FromQuery[int | None] = None,
                     kind: FromQuery[str | None] = None, since: FromQuery[datetime | None] = None,
                     limit: Limit = 50, offset: Offset = 0) -> list[AlertOut]:
        return await service.list_alerts(principal, district_adcode, kind, since, limit, offset)

    @get("/credit-events", summary="Enterprise credit events recorded by materials (adopted by the credit domain)")
    async def credit_events(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep,
                            enterprise_id: FromQuery[UUID | None] = None, limit: Limit = 50,
                            offset: Offset = 0) -> list[CreditEventOut]:
        return await service.list_credit_events(principal, enterprise_id, limit, offset, settings=settings, redis=redis)
