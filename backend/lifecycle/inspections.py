"""Inspection requests (工序报验): the contractor asks, the supervisor answers in time, the station audits.

- The project's lead submits a request for a lot or sub-item (检验批 / 分项工程) with location and photos;
  the project must have started (开工). The answer is due after ``INSPECTION_ANSWER_S``.
- A supervisor of the project's supervision enterprise answers pass / fail with findings and photos
  (GB 50300-2013 6.0.1–6.0.2). An answer after the due time counts against the supervision enterprise's
  credit (``inspection_answer_late``); a failure of a lot that failed before (a re-request failing again)
  counts against the general contractor (``inspection_failed_repeat``).
- A failed request is settled only by a re-request (``resubmit``: the old one becomes ``resubmitted``,
  a new one carries on with ``previous`` set).
- The station may audit any answer: uphold it, or overturn it (pass ↔ fail), with a note.
- The answer deadline runs on the durable timer service (``backend.timers``, kind ``inspection_answer``):
  submitting schedules two timers in the submitting transaction — ``{id}:remind`` at the due time (the
  supervisors are reminded) and ``{id}:escalate`` ``INSPECTION_ESCALATE_AFTER_S`` later (the station is
  told) — and answering cancels both in the answering transaction. ``backend.lifecycle.jobs.on_inspection_timer`` is the handler; each step
  also leaves its marker (``reminded_at`` / ``escalated_at``) and an event, and does nothing once answered.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.credit import service as credit_service
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.lifecycle import access
from backend.lifecycle.rules import (
    LATE_ANSWER_KIND,
    REPEAT_FAILURE_KIND,
    InspectionStatus,
    Stage,
    TransitionRefused,
    is_repeat_failure,
    next_inspection_status,
    reached,
)
from backend.lifecycle.schemas import (
    DocumentOut,
    InspectionAnswer,
    InspectionAudit,
    InspectionCreate,
    InspectionEventOut,
    InspectionOut,
    InspectionResubmit,
)
from backend.lifecycle.tables import InspectionDocument, InspectionEvent, InspectionRequest
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.notifications.service import notify
from backend.projects import service as projects_service
from backend.settings import Settings
from backend.timers import service as timers

TIMER_KIND = "inspection_answer"  # the answer deadline's timers: {request id}:remind, {request id}:escalate
SUBJECT = "inspection"  # photos of the request
ANSWER_SUBJECT = "inspection_answer"  # photos of the supervisor's answer


async def _row(request_id: UUID) -> dict[str, Any]:
    row = await InspectionRequest.select().where(InspectionRequest.id == request_id).first()
    if row is None:
        raise NotFound("INSPECTION_NOT_FOUND")
    return row


async def _out(row: dict[str, Any]) -> InspectionOut:
    events = await InspectionEvent.select().where(InspectionEvent.request == row["id"]).order_by(InspectionEvent.at)
    photos = await media_service.attached_to((SUBJECT, str(row["id"])))
    photos += await media_service.attached_to((ANSWER_SUBJECT, str(row["id"])))
    return InspectionOut(
        id=row["id"], project_id=row["project"], stage=row["stage"], lot=row["lot"], location=row["location"],
        description=row["description"], status=row["status"], previous_id=row["previous"],
        submitted_by=row["submitted_by"], submitted_at=row["submitted_at"], due_at=row["due_at"],
        answered_by=row["answered_by"], answered_at=row["answered_at"],
        late=(is_late(row["due_at"], row["answered_at"]) if row["answered_at"] is not None
              else row["status"] == InspectionStatus.SUBMITTED.value and is_late(row["due_at"], utcnow())),
        findings=row["findings"], audit_verdict=row["audit_verdict"], photo_ids=photos,
        events=[InspectionEventOut(kind=e["kind"], from_status=e["from_status"], to_status=e["to_status"],
                                   actor_id=e["actor"], at=e["at"], note=e["note"]) for e in events],
    )


def is_late(due_at: datetime, answered_at: datetime) -> bool:
    """An answer after its due time is late (the boundary itself is in time)."""
    return answered_at > due_at


async def _event(request_id: UUID, kind: str, actor: Principal | None, from_status: str = "", to_status: str = "",
                 note: str = "", at: datetime | None = None) -> None:
    await InspectionEvent.insert(InspectionEvent(
        id=uuid4(), request=request_id, kind=kind, from_status=from_status, to_status=to_status,
        actor=actor.id if actor is not None and actor.kind == "user" else None, at=at or utcnow(), note=note))


async def _move(row: dict[str, Any], action: str) -> str:
    try:
        return next_inspection_status(row["status"], action).value
    except TransitionRefused:
        raise Conflict("INSPECTION_TRANSITION_REFUSED", detail={"action": action, "status": row["status"]}) from None


async def _tell(people: list[UUID], title: str, content: str, dedup: str, request_id: UUID, *, settings: Settings,
                arq: ArqRedis | None) -> None:
    await notify(people, "generic_notice", {"title": title, "content": content, "time": utcnow()}, dedup,
                 settings=settings, arq=arq, subject=("inspection_request", str(request_id)))


async def _insert(settings: Settings, arq: ArqRedis | None, actor: Principal, project: dict[str, Any], stage: str,
                  lot: str, location: str, description: str, photo_ids: list[UUID], previous: UUID | None) -> UUID:
    """One new request with its photos, its first event and the supervisors told (inside the caller's transaction)."""
    request_id, now = uuid4(), utcnow()
    due_at = now + timedelta(seconds=settings.INSPECTION_ANSWER_S)
    await InspectionRequest.insert(InspectionRequest(
        id=request_id, project=project["id"], stage=stage, lot=lot.strip(), location=location.strip(),
        description=description, status=InspectionStatus.SUBMITTED.value, previous=previous, submitted_by=actor.id,
        submitted_at=now, due_at=due_at))
    await schedule_deadline(request_id, due_at, settings)
    await media_service.attach(actor.id, photo_ids, Purpose.INSPECTION, (SUBJECT, str(request_id)))
    await _event(request_id, "submitted", actor, to_status=InspectionStatus.SUBMITTED.value, note=description, at=now)
    await _tell(await access.supervisor_users(project["id"]), "工序报验待验收",
                f"{project['name']}：{lot.strip()}（{location.strip()}）", f"inspection:{request_id}:submitted",
                request_id, settings=settings, arq=arq)
    return request_id


async def submit(settings: Settings, arq: ArqRedis | None, actor: Principal, data: InspectionCreate) -> InspectionOut:
    """工序报验 by the project's lead; the project must have started."""
    project = await projects_service.get_project_row(data.project_id)
    await access_policy.check(actor, "request_inspection", project)
    if not reached(project["stage"], Stage.STARTED):
        raise Conflict("PROJECT_NOT_STARTED", detail={"stage": project["stage"]})
    async with InspectionRequest._meta.db.transaction():
        request_id = await _insert(settings, arq, actor, project, data.stage.value, data.lot, data.location,
                                   data.description, data.photo_ids, None)
    return await _out(await _row(request_id))


async def resubmit(settings: Settings, arq: ArqRedis | None, actor: Principal, request_id: UUID,
                   data: InspectionResubmit) -> InspectionOut:
    """重新报验 after a failure: the failed request is closed as resubmitted, a new one carries on."""
    row = await _row(request_id)
    project = await projects_service.get_project_row(row["project"])
    await access_policy.check(actor, "request_inspection", project)
    async with InspectionRequest._meta.db.transaction():
        locked = await InspectionRequest.raw("SELECT status FROM inspection_requests WHERE id = {} FOR UPDATE",
                                             request_id)
        target = await _move({"status": locked[0]["status"]}, "resubmit")
        await InspectionRequest.update({InspectionRequest.status: target}).where(InspectionRequest.id == request_id)
        await _event(request_id, "resubmitted", actor, locked[0]["status"], target, data.description)
        new_id = await _insert(settings, arq, actor, project, row["stage"], row["lot"], row["location"],
                               data.description, data.photo_ids, request_id)
    return await _out(await _row(new_id))


async def _failures_before(row: dict[str, Any]) -> int:
    """How many requests of this chain (the re-requests before this one) failed."""
    count, previous = 0, row["previous"]
    while previous is not None:
        earlier = await InspectionRequest.select(InspectionRequest.previous, InspectionRequest.status).where(
            InspectionRequest.id == previous).first()
        if earlier is None:
            break
        count += 1  # a request is re-requested only after it failed
        previous = earlier["previous"]
    return count


async def answer(settings: Settings, arq: ArqRedis | None, actor: Principal, request_id: UUID,
                 data: InspectionAnswer) -> InspectionOut:
    """The supervisor's pass / fail with findings and photos; late answers and repeat failures feed credit."""
    row = await _row(request_id)
    project = await projects_service.get_project_row(row["project"])
    await access_policy.check(actor, "answer_inspection", project)
    action = "pass" if data.passed else "fail"
    async with InspectionRequest._meta.db.transaction():
        locked = await InspectionRequest.raw("SELECT status FROM inspection_requests WHERE id = {} FOR UPDATE",
                                             request_id)
        target = await _move({"status": locked[0]["status"]}, action)
        now = utcnow()
        await InspectionRequest.update({
            InspectionRequest.status: target, InspectionRequest.answered_by: actor.id,
            InspectionRequest.answered_at: now, InspectionRequest.findings: data.findings,
        }).where(InspectionRequest.id == request_id)
        await media_service.attach(actor.id, data.photo_ids, Purpose.INSPECTION, (ANSWER_SUBJECT, str(request_id)))
        await _event(request_id, "passed" if data.passed else "failed", actor, locked[0]["status"], target,
                     data.findings, at=now)
        await timers.cancel(TIMER_KIND, prefix=f"{request_id}:")  # answered: no reminder, no escalation
        if is_late(row["due_at"], now) and actor.enterprise_id is not None:
            await credit_service.record_event(
                actor.enterprise_id, LATE_ANSWER_KIND, f"inspection:{request_id}:late", settings=settings, arq=arq,
                project_id=project["id"], note=f"工序报验逾期答复：{row['lot']}")
        if not data.passed and is_repeat_failure(await _failures_before(row)):
            for gc in await projects_service.general_contractor_ids(project["id"]):
                await credit_service.record_event(
                    gc, REPEAT_FAILURE_KIND, f"inspection:{request_id}:failed", settings=settings, arq=arq,
                    project_id=project["id"], note=f"工序报验重复不合格：{row['lot']}")
        await _tell(await projects_service.lead_user_ids(project["id"]),
                    "工序报验合格" if data.passed else "工序报验不合格，请整改后重新报验",
                    f"{row['lot']}（{row['location']}）", f"inspection:{request_id}:{target}", request_id,
                    settings=settings, arq=arq)
    return await _out(await _row(request_id))


async def audit(actor: Principal, request_id: UUID, data: InspectionAudit) -> InspectionOut:
    """The station's audit of an answer (监督抽查): uphold, or overturn pass ↔ fail; audited on the timeline."""
    row = await _row(request_id)
    project = await projects_service.get_project_row(row["project"])
    access_policy.require(actor, "station", project)
    action = "audit_uphold" if data.uphold else "audit_overturn"
    async with InspectionRequest._meta.db.transaction():
        locked = await InspectionRequest.raw("SELECT status FROM inspection_requests WHERE id = {} FOR UPDATE",
                                             request_id)
        target = await _move({"status": locked[0]["status"]}, action)
        now = utcnow()
        await InspectionRequest.update({
            InspectionRequest.status: target, InspectionRequest.audited_by: actor.id,
            InspectionRequest.audited_at: now, InspectionRequest.audit_verdict: "uphold" if data.uphold else "overturn",
        }).where(InspectionRequest.id == request_id)
        await _event(request_id, action, actor, locked[0]["status"], target, data.note, at=now)
    return await _out(await _row(request_id))


async def get(actor: Principal, request_id: UUID) -> InspectionOut:
    row = await _row(request_id)
    await access.check_reader(actor, await projects_service.get_project_row(row["project"]))
    return await _out(row)


async def list_for_project(actor: Principal, project_id: UUID, status: InspectionStatus | None
                           ) -> list[InspectionOut]:
    """A project's requests, newest first, for its readers."""
    await access.check_reader(actor, await projects_service.get_project_row(project_id))
    query = InspectionRequest.select().where(InspectionRequest.project == project_id)
    if status is not None:
        query = query.where(InspectionRequest.status == status.value)
    return [await _out(r) for r in await query.order_by(InspectionRequest.submitted_at, ascending=False).limit(500)]


async def counts(project_id: UUID) -> dict[str, int]:
    """Requests by status, answered late, and failed (for the site view and credit)."""
    rows = await InspectionRequest.raw(
        "SELECT status, count(*) AS n, count(*) FILTER (WHERE answered_at > due_at) AS late"
        " FROM inspection_requests WHERE project = {} GROUP BY status", project_id)
    out = {r["status"]: r["n"] for r in rows}
    out["late"] = sum(r["late"] for r in rows)
    return out


async def schedule_deadline(request_id: UUID, due_at: datetime, settings: Settings) -> None:
    """The answer deadline's two timers, in the caller's (submitting) transaction."""
    escalate_at = due_at + timedelta(seconds=settings.INSPECTION_ESCALATE_AFTER_S)
    await timers.schedule_many(TIMER_KIND, [
        (f"{request_id}:remind", due_at, {"request": str(request_id), "step": "remind"}),
        (f"{request_id}:escalate", escalate_at, {"request": str(request_id), "step": "escalate"}),
    ])


async def deadline_step(request_id: UUID, step: str, *, settings: Settings, arq: ArqRedis | None) -> str:
    """Remind the supervisors (``remind``) or tell the station (``escalate``) of an unanswered request, once.

    Runs in the caller's transaction (the timer's firing); an answered request, or a step already taken
    (its marker set), does nothing. Returns what it did.
    """
    rows = await InspectionRequest.raw(
        "SELECT id, project, lot, location, status, reminded_at, escalated_at FROM inspection_requests"
        " WHERE id = {} FOR UPDATE", request_id)
    if not rows or rows[0]["status"] != InspectionStatus.SUBMITTED.value:
        return "answered"
    row, now = rows[0], utcnow()
    project = await projects_service.get_project_row(row["project"])
    text = f"{project['name']}：{row['lot']}（{row['location']}）"
    if step == "remind":
        if row["reminded_at"] is not None:
            return "done"
        await InspectionRequest.update({InspectionRequest.reminded_at: now}).where(InspectionRequest.id == request_id)
        await _event(request_id, "reminded", None, note="答复已逾期", at=now)
        await _tell(await access.supervisor_users(project["id"]), "工序报验答复已逾期", text,
                    f"inspection:{request_id}:reminded", request_id, settings=settings, arq=arq)
        return "reminded"
    if step == "escalate":
        if row["escalated_at"] is not None:
            return "done"
        await InspectionRequest.update({InspectionRequest.escalated_at: now}).where(InspectionRequest.id == request_id)
        await _event(request_id, "escalated", None, note="逾期未答复，已报质监站", at=now)
        await _tell(await access.station_users(project["district"]), "工序报验逾期未答复", text,
                    f"inspection:{request_id}:escalated", request_id, settings=settings, arq=arq)
        return "escalated"
    raise ValueError(f"unknown inspection deadline step {step!r}")


DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
FILES_BUCKET = "files"
_DOC_TYPES = {b"%PDF-": ("pdf", "application/pdf"), b"\xff\xd8\xff": ("jpg", "image/jpeg"),
              b"\x89PNG\r\n\x1a\n": ("png", "image/png")}


def _doc_out(row: dict[str, Any], url: str | None = None) -> DocumentOut:
    return DocumentOut(id=row["id"], request_id=row["request"], name=row["name"], content_type=row["content_type"],
                       bytes=row["bytes"], sha256=row["sha256"], uploaded_by=row["uploaded_by"],
                       uploaded_at=row["uploaded_at"], url=url)


async def add_document(s3: S3Client, actor: Principal, request_id: UUID, name: str, content: bytes) -> DocumentOut:
    """Attach a document (PDF / JPEG / PNG by its magic bytes, ≤ 10 MB) to a request: its lead or supervisor."""
    row = await _row(request_id)
    await access_policy.check(actor, "inspection_document", {"id": row["project"]})
    kind = next((v for magic, v in _DOC_TYPES.items() if content.startswith(magic)), None)
    if kind is None or len(content) > DOCUMENT_MAX_BYTES:
        raise BadRequest("DOCUMENT_INVALID", detail={"max_bytes": DOCUMENT_MAX_BYTES, "types": ["pdf", "jpeg", "png"]})
    clean = re.sub(r"[^\w\u4e00-\u9fff.\-（）()]+", "_", name).strip("._")[:100] or "document"
    doc_id = uuid4()
    key = f"inspections/{request_id}/{doc_id}.{kind[0]}"
    await s3.put_bytes(FILES_BUCKET, key, content, kind[1])
    async with InspectionRequest._meta.db.transaction():
        await InspectionDocument.insert(InspectionDocument(
            id=doc_id, request=request_id, name=clean, key=key, content_type=kind[1], bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(), uploaded_by=actor.id))
        await _event(request_id, "document", actor, note=clean)
    return _doc_out(await InspectionDocument.select().where(InspectionDocument.id == doc_id).first())


async def list_documents(s3: S3Client, actor: Principal, request_id: UUID) -> list[DocumentOut]:
    """A request's documents with short-lived download URLs, for the project's readers."""
    row = await _row(request_id)
    await access.check_reader(actor, await projects_service.get_project_row(row["project"]))
    docs = await InspectionDocument.select().where(InspectionDocument.request == request_id).order_by(
        InspectionDocument.uploaded_at)
    return [_doc_out(d, await s3.presigned_get(FILES_BUCKET, d["key"])) for d in docs]
