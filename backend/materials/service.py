"""Materials (建材): batches, the trace chain, lab reports and their judgement, labels — rules, no HTTP.

A failed report marks the batch non-conforming, which blocks recording its use, tells the supervisor,
the general contractor, the project leads and the district's station, and records a credit event
against the manufacturer (credit_events; the credit domain adopts that table).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import structlog
from arq.connections import ArqRedis
from asyncpg.exceptions import UniqueViolationError
from redis.asyncio import Redis

from backend import ratelimit
from backend.access import policy as access_policy
from backend.access.scope import project_scope
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.db import utcnow
from backend.enterprises import service as enterprises_service
from backend.enterprises.tables import Enterprise
from backend.errors import BadRequest, Conflict, NotFound
from backend.geo.coords import to_gcj02
from backend.materials import qr, standards
from backend.materials.rules import Event, Material, Status, TransitionRefused, next_status, usable
from backend.materials.schemas import (
    AlertOut,
    BatchCreate,
    BatchOut,
    CreditEventOut,
    EntryInspectionIn,
    LabelOut,
    SamplingIn,
    TransportLegIn,
    UseIn,
)
from backend.materials.tables import (
    CreditEvent,
    EntryInspection,
    MaterialAlert,
    MaterialBatch,
    MaterialEvent,
    MaterialLabel,
    Sampling,
    TransportLeg,
    UseRecord,
)
from backend.projects import service as projects_service
from backend.settings import Settings

log = structlog.get_logger("zhijian.materials")

CREDIT_KIND_MATERIAL_FAILED = "material_test_failed"
# points: backend.credit.scoring.KIND_POINTS (the credit domain owns the scoring)
CERTIFICATE_MAX_BYTES = 10 * 1024 * 1024
_CERT_TYPES = {b"%PDF-": ("pdf", "application/pdf"), b"\xff\xd8\xff": ("jpg", "image/jpeg"),
               b"\x89PNG\r\n\x1a\n": ("png", "image/png")}
TRACE_KEY = "mat:trace:{}"
LABEL_KEY = "mat:lbl:{}"
REVOKED_KEY = "mat:revoked"  # revoked label ids; PostgreSQL stays the truth (read on a cache miss)


# --- access ---------------------------------------------------------------------------------------------

async def _batch(batch_id: UUID) -> dict[str, Any]:
    row = await MaterialBatch.select(
        *MaterialBatch.all_columns(), MaterialBatch.manufacturer.name.as_alias("manufacturer_name"),
    ).where(MaterialBatch.id == batch_id).first()
    if row is None:
        raise NotFound("BATCH_NOT_FOUND")
    return row


async def project_for(actor: Principal, project_id: UUID, action: str = "read_project") -> dict[str, Any]:
    """The project row, once the access policy lets the actor do ``action`` on it (read_project,
    inspect_material_entry, witness_material, decide_material_use)."""
    project = await projects_service.get_project_row(project_id)
    await access_policy.check(actor, action, project)
    return project


async def lab_of(actor: Principal) -> UUID:
    """The actor's testing lab, once the access policy says they act as one (act_as_lab)."""
    await access_policy.check(actor, "act_as_lab", {})
    assert actor.enterprise_id is not None  # act_as_lab holds only for users of an enterprise
    return actor.enterprise_id


def _out(row: dict[str, Any]) -> BatchOut:
    return BatchOut(
        id=row["id"], material=Material(row["material"]), grade=row["grade"], spec=row["spec"],
        manufacturer_id=row["manufacturer"], manufacturer_name=row["manufacturer_name"],
        production_batch_no=row["production_batch_no"], production_date=row["production_date"],
        quantity=float(row["quantity"]), unit=row["unit"], project_id=row["project"],
        district_adcode=row["district"], status=Status(row["status"]),
        usable=usable(Status(row["status"]), row["use_decision"]),
        has_certificate=row["certificate_key"] is not None, created_at=row["created_at"],
        updated_at=row["updated_at"], use_decision_id=row["use_decision"],
    )


def check_grade(material: Material, grade: str) -> None:
    """The grade must have a rule set (membranes: no values known, reported as not checked)."""
    known = {
        Material.REBAR: standards.REBAR_RULE_SETS, Material.CEMENT: standards.CEMENT_GRADES,
        Material.CONCRETE: standards.CONCRETE_GRADES,
    }.get(material)
    if known is not None and grade not in known:
        raise BadRequest("GRADE_UNKNOWN", detail={"material": material.value, "grade": grade,
                                                  "known": sorted(known)})


async def invalidate(redis: Redis | None, batch_id: UUID) -> None:
    """Drop the cached trace view after a change (PostgreSQL stays the truth)."""
    if redis is not None:
        await redis.delete(TRACE_KEY.format(batch_id))


# --- batches ----------------------------------------------------------------------------------------------

async def create_batch(settings: Settings, actor: Principal, data: BatchCreate) -> BatchOut:
    """Register a delivered batch for a project, with its batch label (serial 0)."""
    await projects_service.require_site_activity(data.project_id)
    project = await project_for(actor, data.project_id)
    check_grade(data.material, data.grade)
    kinds = await enterprises_service.kinds_of([data.manufacturer_id])
    if data.manufacturer_id not in kinds:
        raise NotFound("ENTERPRISE_NOT_FOUND", detail={"enterprise_id": str(data.manufacturer_id)})
    if "manufacturer" not in kinds[data.manufacturer_id]:
        raise BadRequest("NOT_A_MANUFACTURER")
    batch_id, label_id = uuid4(), uuid4()
    try:
        async with MaterialBatch._meta.db.transaction():
            await MaterialBatch.insert(MaterialBatch(
                id=batch_id, material=data.material.value, grade=data.grade, spec=data.spec.strip(),
                manufacturer=data.manufacturer_id, production_batch_no=data.production_batch_no.strip(),
                production_date=data.production_date, quantity=Decimal(str(data.quantity)), unit=data.unit,
                project=data.project_id, district=project["district"], status=Status.REGISTERED.value,
                created_by=actor.id if actor.kind == "user" else None,
            ))
            await MaterialLabel.insert(MaterialLabel(id=label_id, batch=batch_id, serial=0,
                                                     key_id=settings.MATERIAL_QR_KEY_ID,
                                                     token=qr.sign(settings, label_id)))
            await _event(batch_id, "registered", actor, to_status=Status.REGISTERED)
    except UniqueViolationError as exc:
        raise Conflict("BATCH_DUPLICATE") from exc
    return _out(await _batch(batch_id))


async def get_batch(actor: Principal, batch_id: UUID) -> BatchOut:
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    return _out(row)


async def list_batches(actor: Principal, project_id: UUID, status: Status | None, limit: int, offset: int
                       ) -> tuple[int, list[BatchOut]]:
    await project_for(actor, project_id)
    where = MaterialBatch.project == project_id
    if status is not None:
        where = where & (MaterialBatch.status == status.value)
    rows = await MaterialBatch.select(
        *MaterialBatch.all_columns(), MaterialBatch.manufacturer.name.as_alias("manufacturer_name"),
    ).where(where).order_by(MaterialBatch.created_at, ascending=False).limit(limit).offset(offset)
    return await MaterialBatch.count().where(where), [_out(r) for r in rows]


async def _event(batch_id: UUID, kind: str, actor: Principal | None, *, from_status: Status | None = None,
                 to_status: Status | None = None, detail: dict[str, Any] | None = None) -> None:
    await MaterialEvent.insert(MaterialEvent(
        batch=batch_id, kind=kind, from_status=from_status.value if from_status else "",
        to_status=to_status.value if to_status else "",
        actor=actor.id if actor is not None and actor.kind == "user" else None,
        detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
    ))


async def transition(batch: dict[str, Any], event: Event, actor: Principal | None,
                     detail: dict[str, Any] | None = None, *, target: Status | None = None) -> Status:
    """Apply one state-machine event (inside the caller's transaction) and write its event row."""
    current = Status(batch["status"])
    try:
        to = next_status(current, event, target)
    except TransitionRefused as exc:
        raise Conflict("BATCH_STATE", detail={"status": current.value, "event": event.value}) from exc
    changed = await MaterialBatch.update(
        {MaterialBatch.status: to.value, MaterialBatch.version: MaterialBatch.version + 1,
         MaterialBatch.updated_at: utcnow()}
    ).where((MaterialBatch.id == batch["id"]) & (MaterialBatch.status == current.value)).returning(MaterialBatch.id)
    if not changed:  # changed concurrently: the caller retries with fresh state
        raise Conflict("BATCH_STATE", detail={"status": current.value, "event": event.value, "reason": "changed"})
    await _event(batch["id"], event.value, actor, from_status=current, to_status=to, detail=detail)
    batch["status"] = to.value
    return to


async def _touch(batch_id: UUID) -> None:
    await MaterialBatch.update({MaterialBatch.version: MaterialBatch.version + 1,
                                MaterialBatch.updated_at: utcnow()}).where(MaterialBatch.id == batch_id)


async def upload_certificate(s3: S3Client, settings: Settings, redis: Redis, actor: Principal, batch_id: UUID,
                             content: bytes) -> BatchOut:
    """Keep the factory certificate (出厂合格证) in the files bucket; only PDF/JPEG/PNG up to 10 MB."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    kind = next((v for magic, v in _CERT_TYPES.items() if content.startswith(magic)), None)
    if kind is None or len(content) > CERTIFICATE_MAX_BYTES:
        raise BadRequest("CERTIFICATE_INVALID")
    key = f"materials/{batch_id}/certificate-{uuid4().hex}.{kind[0]}"
    await s3.put_bytes("files", key, content, kind[1])
    async with MaterialBatch._meta.db.transaction():
        await MaterialBatch.update({MaterialBatch.certificate_key: key}).where(MaterialBatch.id == batch_id)
        await _touch(batch_id)
        await _event(batch_id, "certificate", actor, detail={"bytes": len(content), "type": kind[1]})
    await invalidate(redis, batch_id)
    return _out(await _batch(batch_id))


async def certificate_url(s3: S3Client, settings: Settings, actor: Principal, batch_id: UUID) -> str:
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    if row["certificate_key"] is None:
        raise NotFound("NOT_FOUND", detail="no certificate")
    return await s3.presigned_get("files", row["certificate_key"])


# --- the trace chain --------------------------------------------------------------------------------------

async def add_transport_leg(redis: Redis, actor: Principal, batch_id: UUID, data: TransportLegIn) -> dict[str, Any]:
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    if data.arrived_at is not None and data.arrived_at < data.departed_at:
        raise BadRequest("VALIDATION_ERROR", detail={"arrived_at": "before departed_at"})
    track = None
    if data.track:
        if len(data.track) > 5000:
            raise BadRequest("VALIDATION_ERROR", detail={"track": "at most 5000 points"})
        track = {"type": "LineString",
                 "coordinates": [list(to_gcj02(lng, lat, data.coord_type)) for lng, lat in data.track]}
    leg = TransportLeg(batch=batch_id, vehicle=data.vehicle.strip().upper(), origin=data.origin,
                       destination=data.destination, departed_at=data.departed_at, arrived_at=data.arrived_at,
                       track=json.dumps(track) if track else None, recorded_by=actor.id)
    async with MaterialBatch._meta.db.transaction():
        await leg.save()
        await _touch(batch_id)
        await _event(batch_id, "transport_leg", actor, detail={"leg": str(leg.id)})
    await invalidate(redis, batch_id)
    return {"id": leg.id, "batch_id": batch_id}


async def record_entry_inspection(redis: Redis, actor: Principal, batch_id: UUID, data: EntryInspectionIn
                                  ) -> BatchOut:
    """进场验收 by the supervisor, the project lead, or a station inspector."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"], "inspect_material_entry")
    async with MaterialBatch._meta.db.transaction():
        await transition(row, Event.ENTRY_ACCEPT if data.accepted else Event.ENTRY_REJECT, actor,
                         {"note": data.note})
        await EntryInspection.insert(EntryInspection(
            batch=batch_id, accepted=data.accepted, note=data.note, inspected_by=actor.id,
            quantity_received=None if data.quantity_received is None else Decimal(str(data.quantity_received))))
    await invalidate(redis, batch_id)
    return _out(await _batch(batch_id))


async def record_sampling(redis: Redis, actor: Principal, batch_id: UUID, data: SamplingIn) -> BatchOut:
    """见证取样: the witness (supervisor or station inspector) records the sample."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"], "witness_material")
    if data.lab_id is not None:
        kinds = await enterprises_service.kinds_of([data.lab_id])
        if "testing_lab" not in kinds.get(data.lab_id, set()):
            raise BadRequest("NOT_A_LAB", detail={"lab_id": str(data.lab_id)})
    try:
        async with MaterialBatch._meta.db.transaction():
            await transition(row, Event.SAMPLE, actor, {"sample_no": data.sample_no})
            await Sampling.insert(Sampling(batch=batch_id, sample_no=data.sample_no, sampled_by=data.sampled_by,
                                           witness=actor.id, lab=data.lab_id))
    except UniqueViolationError as exc:
        raise Conflict("SAMPLE_DUPLICATE") from exc
    await invalidate(redis, batch_id)
    return _out(await _batch(batch_id))


def _use_refusal(status: str, decision: UUID | None) -> Conflict | None:
    if usable(Status(status), decision):
        return None
    if Status(status) is Status.PARTIALLY_CHECKED:  # unchecked items: a named supervisor decides first
        return Conflict("BATCH_USE_NEEDS_DECISION", detail={"status": status})
    return Conflict("BATCH_USE_BLOCKED", detail={"status": status})


async def record_use(redis: Redis, actor: Principal, batch_id: UUID, data: UseIn) -> dict[str, Any]:
    """使用部位: refused unless the batch passed, or a supervisor accepted its unchecked items (usable())."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    if (refusal := _use_refusal(row["status"], row["use_decision"])) is not None:
        raise refusal
    use = UseRecord(batch=batch_id, building=data.building, floor=data.floor, element=data.element,
                    quantity=None if data.quantity is None else Decimal(str(data.quantity)), recorded_by=actor.id)
    async with MaterialBatch._meta.db.transaction():
        # Lock the batch so a failing report cannot slip in between the check and the insert.
        locked = await MaterialBatch.raw(
            "SELECT status, use_decision FROM material_batches WHERE id = {} FOR UPDATE", batch_id)
        if (refusal := _use_refusal(locked[0]["status"], locked[0]["use_decision"])) is not None:
            raise refusal
        await use.save()
        await _touch(batch_id)
        await _event(batch_id, "use", actor, detail={"use": str(use.id), "element": data.element})
    await invalidate(redis, batch_id)
    return {"id": use.id, "batch_id": batch_id}


async def remove_batch(settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, batch_id: UUID,
                       reason: str) -> BatchOut:
    """退场: a non-conforming, retest-pending or rejected batch leaves the site; the supervisor or station confirms.
    Leaving without the retest lets the first failure stand (its credit event is recorded then)."""
    from backend.materials import reports  # reports builds on this module

    row = await _batch(batch_id)
    await project_for(actor, row["project"], "witness_material")
    async with MaterialBatch._meta.db.transaction():
        await transition(row, Event.REMOVE, actor, {"reason": reason})
        await reports.apply_reports(settings, arq, actor, batch_id, cause=f"remove:{batch_id}", reports_changed=False)
    await invalidate(redis, batch_id)
    return _out(await _batch(batch_id))


# --- lab reports: backend/materials/reports.py --------------------------------------------------------------

def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__struct_fields__}


async def timeline(actor: Principal, batch_id: UUID) -> list[dict[str, Any]]:
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    rows = await MaterialEvent.select().where(MaterialEvent.batch == batch_id).order_by(
        MaterialEvent.at).output(load_json=True)
    return [{"kind": r["kind"], "from": r["from_status"], "to": r["to_status"], "actor_id": r["actor"],
             "detail": r["detail"], "at": r["at"]} for r in rows]


# --- labels -----------------------------------------------------------------------------------------------

def _label_out(settings: Settings, row: dict[str, Any]) -> LabelOut:
    return LabelOut(id=row["id"], batch_id=row["batch"], serial=row["serial"], token=row["token"],
                    content=qr.content_for(settings, row["token"]), revoked=row["revoked_at"] is not None,
                    scan_count=row["scan_count"])


async def issue_labels(settings: Settings, actor: Principal, batch_id: UUID, bundles: int) -> list[LabelOut]:
    """Make sure the batch has bundle labels 1..bundles (idempotent); returns all its labels."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    existing = {r["serial"] for r in await MaterialLabel.select(MaterialLabel.serial).where(
        MaterialLabel.batch == batch_id)}
    fresh = []
    for serial in range(1, bundles + 1):
        if serial not in existing:
            lid = uuid4()
            fresh.append(MaterialLabel(id=lid, batch=batch_id, serial=serial, key_id=settings.MATERIAL_QR_KEY_ID,
                                       token=qr.sign(settings, lid)))
    if fresh:
        try:
            await MaterialLabel.insert(*fresh)
        except UniqueViolationError:
            pass  # issued concurrently: the same labels exist
    return await list_labels(settings, actor, batch_id)


async def list_labels(settings: Settings, actor: Principal, batch_id: UUID) -> list[LabelOut]:
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    rows = await MaterialLabel.select().where(MaterialLabel.batch == batch_id).order_by(MaterialLabel.serial)
    return [_label_out(settings, r) for r in rows]


async def _label(label_id: UUID) -> dict[str, Any]:
    row = await MaterialLabel.select().where(MaterialLabel.id == label_id).first()
    if row is None:
        raise NotFound("LABEL_NOT_FOUND")
    return row


async def label_image(settings: Settings, actor: Principal, label_id: UUID, kind: str) -> bytes:
    label = await _label(label_id)
    row = await _batch(label["batch"])
    await project_for(actor, row["project"])
    content = qr.content_for(settings, label["token"])
    return qr.png(content) if kind == "png" else qr.svg(content)


async def label_sheet(settings: Settings, actor: Principal, batch_id: UUID) -> bytes:
    """A printable A4 sheet (SVG) of the batch's labels that are not revoked."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    labels = await MaterialLabel.select().where(
        (MaterialLabel.batch == batch_id) & MaterialLabel.revoked_at.is_null()).order_by(MaterialLabel.serial)
    items = [qr.SheetItem(qr.content_for(settings, lab["token"]), [
        f"{row['grade']} {row['spec']}".strip(),
        f"批号 {row['production_batch_no']}" + (f" · 捆 {lab['serial']}" if lab["serial"] else ""),
        row["manufacturer_name"][:20],
    ]) for lab in labels]
    return qr.sheet_svg(items)


async def revoke_label(settings: Settings, redis: Redis, actor: Principal, label_id: UUID, reason: str) -> LabelOut:
    label = await _label(label_id)
    row = await _batch(label["batch"])
    await project_for(actor, row["project"])
    if label["revoked_at"] is None:
        async with MaterialBatch._meta.db.transaction():
            await MaterialLabel.update({MaterialLabel.revoked_at: utcnow(), MaterialLabel.revoked_reason: reason,
                                        MaterialLabel.revoked_by: actor.id}).where(
                (MaterialLabel.id == label_id) & MaterialLabel.revoked_at.is_null())
            await _event(row["id"], "label_revoked", actor, detail={"label": str(label_id), "serial": label["serial"],
                                                                    "reason": reason})
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sadd(REVOKED_KEY, str(label_id))
            pipe.delete(LABEL_KEY.format(label_id))
            await pipe.execute()
    return _label_out(settings, await _label(label_id))


# --- alerts and credit ------------------------------------------------------------------------------------

async def list_alerts(actor: Principal, district: int | None, kind: str | None, since: datetime | None,
                      limit: int, offset: int) -> list[AlertOut]:
    """Counterfeit / revoked / diversion alerts of the actor's district (staff)."""
    query = MaterialAlert.select()
    for clause in project_scope(actor, district, staff_only=True).where(district_col=MaterialAlert.district):
        query = query.where(clause)
    if kind:
        query = query.where(MaterialAlert.kind == kind)
    if since:
        query = query.where(MaterialAlert.at >= since)
    rows = await query.order_by(MaterialAlert.at, ascending=False).limit(limit).offset(offset).output(load_json=True)
    return [AlertOut(id=r["id"], kind=r["kind"], batch_id=r["batch"], label_id=r["label"],
                     district_adcode=r["district"], detail=_located(r["detail"]), at=r["at"]) for r in rows]


def _located(detail: dict[str, Any]) -> dict[str, Any]:
    """An alert's scan location says its system (GCJ-02, as stored); alerts written before the label too."""
    if detail.get("lng") is not None and "coord_type" not in detail:
        return {**detail, "coord_type": "gcj02"}
    return detail


async def list_credit_events(actor: Principal, enterprise_id: UUID | None, limit: int, offset: int, *,
                             settings: Settings | None = None, redis: Redis | None = None) -> list[CreditEventOut]:
    """Credit events (staff: their district's projects; city-wide: all; API keys with credit:read, rate limited and
    every read audited in credit_audit like the open credit API)."""
    query = CreditEvent.select(*CreditEvent.all_columns())
    if actor.kind == "api_key":
        access_policy.require(actor, "key_scope", {"scope": "credit:read"})
        if redis is not None and settings is not None:
            await ratelimit.hit(redis, f"credit:open:{actor.id}", settings.CREDIT_OPEN_RATE_PER_MIN, 60)
        from backend.credit.audit import audit  # credit imports materials' tables

        await audit(actor, "query.material_events", enterprise_id,
                    {"enterprise": str(enterprise_id) if enterprise_id else None, "limit": limit, "offset": offset})
    else:
        for clause in project_scope(actor, staff_only=True).where(district_col=CreditEvent.project.district):
            query = query.where(clause)
    if enterprise_id is not None:
        query = query.where(CreditEvent.enterprise == enterprise_id)
    rows = await query.order_by(CreditEvent.occurred_at, ascending=False).limit(limit).offset(offset)
    return [CreditEventOut(id=r["id"], enterprise_id=r["enterprise"], project_id=r["project"], kind=r["kind"],
                           points=r["points"], evidence=r["evidence"], occurred_at=r["occurred_at"], note=r["note"])
            for r in rows]


async def enterprise_name(enterprise_id: UUID) -> str:
    row = await Enterprise.select(Enterprise.name).where(Enterprise.id == enterprise_id).first()
    return row["name"] if row else ""
