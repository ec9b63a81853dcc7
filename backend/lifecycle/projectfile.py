"""The project file (电子档案): a project's records for a date range, gathered once, rendered as PDF and ZIP.

``gather`` reads every record of the project in the range — stage moves, inspection requests (and the documents
attached to them: listed in the PDF with name, type, size, who uploaded them and when, images as thumbnails), material
batches, spot checks and quality holds, monitoring alarms, complaints — each with who did it and when
(citizens are shown as 市民, never by name), and the photos attached to each subject. Other domains' rows
are read with one SQL statement per section (read-only). ``render_pdf`` (projectfile_pdf) and ``render_zip``
turn the same gathered data into bytes; both are reproducible: the same records give the same bytes
(no "now" is printed, reportlab runs with ``invariant=1``, ZIP entries have fixed times and order).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from backend import db
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.errors import BadRequest
from backend.lifecycle import access
from backend.lifecycle.rules import STAGE_ZH, Stage
from backend.projects import service as projects_service
from backend.settings import Settings

MAX_RANGE_DAYS = 3660  # ten years: a project's whole life fits
PHOTOS_BUCKET = "photos"
FILES_BUCKET = "files"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the ZIP's bytes depend on its content only


@dataclass(frozen=True, slots=True)
class Record:
    at: datetime
    who: str
    subject: str
    action: str
    note: str


@dataclass(frozen=True, slots=True)
class Photo:
    media_id: UUID
    key: str
    thumb_key: str
    subject: str


@dataclass(frozen=True, slots=True)
class Document:
    """A document attached to an inspection request (工序报验附件), as the PDF lists it and the ZIP carries it."""

    id: UUID
    lot: str
    name: str
    key: str  # in the files bucket
    content_type: str
    bytes: int
    who: str
    uploaded_at: datetime

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/jpeg", "image/png")


@dataclass
class Section:
    key: str
    title: str
    records: list[Record] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)


@dataclass
class ProjectFile:
    project: dict[str, Any]
    parties: list[tuple[str, str, str]]  # (role, name, uscc)
    start: date
    end: date
    zone_name: str
    sections: list[Section]
    certificates: list[tuple[str, str]]  # (batch label, S3 key in the files bucket)
    documents: list[Document] = field(default_factory=list)  # inspection requests' documents, in upload order

    @property
    def last_record_at(self) -> datetime | None:
        times = [r.at for s in self.sections for r in s.records]
        return max(times) if times else None


_WHO = ("CASE WHEN u.id IS NULL THEN '系统' WHEN u.role = 'citizen' THEN '市民'"
        " ELSE coalesce(nullif(u.display_name, ''), u.username, '用户') || '（' || CASE u.role"
        " WHEN 'project_lead' THEN '项目负责人' WHEN 'supervisor' THEN '监理' WHEN 'inspector' THEN '监督员'"
        " WHEN 'regulator_admin' THEN '主管部门' WHEN 'worker' THEN '工人' ELSE u.role END || '）' END")

# (key, title, records SQL, photos SQL or None). $1 project, $2 from, $3 to (UTC instants).
_SECTIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("stages", "项目阶段（立项、施工许可、开工、分部验收、竣工验收、备案）",
     f"SELECT e.at, {_WHO} AS who, '项目' AS subject, e.action AS action,"
     " concat_ws(' ', e.from_stage || ' → ' || e.to_stage, nullif(e.note, ''), nullif(e.detail::text, '{{}}')) AS note"
     " FROM project_stage_events e LEFT JOIN users u ON u.id = e.actor"
     " WHERE e.project = $1 AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id", None),
    ("inspections", "工序报验（检验批、分项工程）",
     f"SELECT e.at, {_WHO} AS who, CASE r.stage WHEN 'foundation' THEN '地基与基础' WHEN 'structure' THEN '主体结构'"
     " ELSE '装饰装修等' END || ' ' || r.lot || '（' || r.location || '）' AS subject, e.kind AS action,"
     " concat_ws(' ', nullif(e.from_status || '→' || e.to_status, '→'), nullif(e.note, '')) AS note"
     " FROM inspection_request_events e JOIN inspection_requests r ON r.id = e.request"
     " LEFT JOIN users u ON u.id = e.actor WHERE r.project = $1 AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id",
     "SELECT m.id, m.key, m.thumb_key, r.lot AS subject FROM media m JOIN inspection_requests r"
     " ON m.attached_id = r.id::text AND m.attached_type IN ('inspection', 'inspection_answer')"
     " WHERE r.project = $1 AND m.status = 'verified' AND m.created_at >= $2 AND m.created_at < $3"
     " ORDER BY m.created_at, m.id"),
    ("materials", "材料进场与检测（进场验收、见证取样、检测报告、退场）",
     f"SELECT e.at, {_WHO} AS who, b.material || ' ' || b.grade || ' ' || b.production_batch_no AS subject,"
     " e.kind AS action, concat_ws(' ', nullif(e.from_status || '→' || e.to_status, '→'),"
     " nullif(e.detail::text, '{{}}')) AS note"
     " FROM material_batch_events e JOIN material_batches b ON b.id = e.batch LEFT JOIN users u ON u.id = e.actor"
     " WHERE b.project = $1 AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id", None),
    ("spot_checks", "监督抽查与质量暂停",
     f"SELECT * FROM (SELECT c.checked_at AS at, {_WHO} AS who, '抽查' AS subject,"
     " CASE WHEN c.passed THEN 'passed' ELSE 'failed' END AS action, c.items::text AS note, c.id::text AS k"
     " FROM spot_checks c LEFT JOIN users u ON u.id = c.inspector"
     " WHERE c.project = $1 AND c.checked_at >= $2 AND c.checked_at < $3"
     f" UNION ALL SELECT e.at, {_WHO}, '质量暂停', e.action, e.detail::text, e.id::text"
     " FROM quality_hold_events e JOIN quality_holds h ON h.id = e.hold LEFT JOIN users u ON u.id = e.actor"
     " WHERE h.project = $1 AND e.at >= $2 AND e.at < $3) x ORDER BY at, k",
     "SELECT m.id, m.key, m.thumb_key, '抽查' AS subject FROM media m JOIN spot_checks c"
     " ON m.attached_id = c.id::text AND m.attached_type = 'spot_check'"
     " WHERE c.project = $1 AND m.status = 'verified' AND m.created_at >= $2 AND m.created_at < $3"
     " ORDER BY m.created_at, m.id"),
    ("alarms", "危大工程监测告警",
     f"SELECT e.at, {_WHO} AS who, a.metric || ' #' || a.occurrence AS subject, e.kind AS action,"
     " concat_ws(' ', nullif(e.from_status || '→' || e.to_status, '→'), nullif(e.note, '')) AS note"
     " FROM monitoring_alarm_events e JOIN monitoring_alarms a ON a.id = e.alarm LEFT JOIN users u ON u.id = e.actor"
     " WHERE a.project = $1 AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id", None),
    ("complaints", "投诉处理",
     f"SELECT e.at, {_WHO} AS who, c.number AS subject, e.kind AS action,"
     " concat_ws(' ', nullif(e.from_status || '→' || e.to_status, '→'), nullif(e.reason, '')) AS note"
     " FROM complaint_events e JOIN complaints c ON c.id = e.complaint LEFT JOIN users u ON u.id = e.actor"
     " WHERE c.project = $1 AND e.public AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.id",
     "SELECT m.id, m.key, m.thumb_key, c.number AS subject FROM media m JOIN complaints c"
     " ON m.attached_id = c.id::text AND m.attached_type IN ('complaint', 'complaint_result')"
     " WHERE c.project = $1 AND m.status = 'verified' AND m.created_at >= $2 AND m.created_at < $3"
     " ORDER BY m.created_at, m.id"),
)
_PARTY_ZH = {"owner": "建设单位", "general_contractor": "施工总承包", "labour_subcontractor": "劳务分包",
             "supervision": "监理单位"}


def check_range(start: date, end: date) -> None:
    """A range is start ≤ end, at most MAX_RANGE_DAYS long."""
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest("FILE_RANGE_INVALID", detail={"start": start.isoformat(), "end": end.isoformat(),
                                                       "max_days": MAX_RANGE_DAYS})


async def gather(settings: Settings, project_id: UUID, start: date, end: date) -> ProjectFile:
    """Every record of the project from start to end (local dates, both included), with photos."""
    check_range(start, end)
    zone = settings.zone()
    project = await projects_service.get_project_row(project_id)
    lo = datetime.combine(start, time(0), tzinfo=zone)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    sections: list[Section] = []
    async with db.connection() as conn:
        parties = await conn.fetch(
            "SELECT p.role, e.name, e.uscc FROM project_parties p JOIN enterprises e ON e.id = p.enterprise"
            " WHERE p.project = $1 ORDER BY p.role, e.uscc", project_id)
        for key, title, records_sql, photos_sql in _SECTIONS:
            section = Section(key, title)
            for r in await conn.fetch(records_sql, project_id, lo, hi):
                section.records.append(Record(at=r["at"], who=r["who"], subject=r["subject"] or "",
                                              action=r["action"], note=(r["note"] or "")[:300]))
            if photos_sql:
                section.photos = [Photo(p["id"], p["key"], p["thumb_key"], p["subject"])
                                  for p in await conn.fetch(photos_sql, project_id, lo, hi) if p["key"]]
            sections.append(section)
        certificates = await conn.fetch(
            "SELECT material || ' ' || grade || ' ' || production_batch_no AS label, certificate_key FROM material_batches"
            " WHERE project = $1 AND certificate_key IS NOT NULL AND created_at >= $2 AND created_at < $3"
            " ORDER BY created_at, id", project_id, lo, hi)
        documents = await conn.fetch(
            f"SELECT d.id, r.lot, d.name, d.key, d.content_type, d.bytes, d.uploaded_at, {_WHO} AS who"
            " FROM inspection_documents d JOIN inspection_requests r ON r.id = d.request"
            " LEFT JOIN users u ON u.id = d.uploaded_by"
            " WHERE r.project = $1 AND d.uploaded_at >= $2 AND d.uploaded_at < $3 ORDER BY d.uploaded_at, d.id",
            project_id, lo, hi)
    return ProjectFile(
        project=project, parties=[(_PARTY_ZH.get(p["role"], p["role"]), p["name"], p["uscc"]) for p in parties],
        start=start, end=end, zone_name=settings.TIMEZONE, sections=sections,
        certificates=[(c["label"], c["certificate_key"]) for c in certificates],
        documents=[Document(d["id"], d["lot"], d["name"], d["key"], d["content_type"], d["bytes"], d["who"],
                            d["uploaded_at"]) for d in documents])


def manifest(pf: ProjectFile) -> dict[str, Any]:
    """The file's index as JSON-able data (also the ZIP's manifest.json)."""
    p = pf.project
    return {
        "project": {"id": str(p["id"]), "name": p["name"], "permit_no": p["permit_no"], "address": p["address"],
                    "district_adcode": p["district"], "stage": p["stage"], "stage_zh": STAGE_ZH[Stage(p["stage"])]},
        "parties": [{"role": r, "name": n, "uscc": u} for r, n, u in pf.parties],
        "range": {"start": pf.start.isoformat(), "end": pf.end.isoformat(), "zone": pf.zone_name},
        "sections": [{"key": s.key, "title": s.title,
                      "records": [{"at": r.at.isoformat(), "who": r.who, "subject": r.subject, "action": r.action,
                                   "note": r.note} for r in s.records],
                      "photos": [{"media_id": str(ph.media_id), "subject": ph.subject,
                                  "file": f"photos/{s.key}/{ph.media_id}.jpg"} for ph in s.photos]}
                     for s in pf.sections],
        "certificates": [{"batch": label, "file": f"certificates/{i:03d}{key[key.rfind('.'):]}"}
                         for i, (label, key) in enumerate(pf.certificates, 1)],
        "documents": [{"lot": d.lot, "name": d.name, "file": f"documents/{i:03d}-{d.name}",
                       "content_type": d.content_type, "bytes": d.bytes, "uploaded_by": d.who,
                       "uploaded_at": d.uploaded_at.isoformat()}
                      for i, d in enumerate(pf.documents, 1)],
    }


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


async def render_zip(s3: S3Client, pf: ProjectFile, pdf: bytes) -> bytes:
    """The originals: every photo at full size, the factory certificates, the PDF and the manifest."""
    index = manifest(pf)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _add(zf, "manifest.json", json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True).encode())
        _add(zf, "project_file.pdf", pdf)
        for section, listed in zip(pf.sections, index["sections"], strict=True):
            for photo, entry in zip(section.photos, listed["photos"], strict=True):
                _add(zf, entry["file"], await s3.get_bytes(PHOTOS_BUCKET, photo.key))
        for (_, key), entry in zip(pf.certificates, index["certificates"], strict=True):
            _add(zf, entry["file"], await s3.get_bytes(FILES_BUCKET, key))
        for doc, entry in zip(pf.documents, index["documents"], strict=True):
            _add(zf, entry["file"], await s3.get_bytes(FILES_BUCKET, doc.key))
    return buf.getvalue()


THUMB_MAX_PX = 320  # a document image's thumbnail in the PDF: its longer side


def document_thumbnail(content: bytes) -> bytes | None:
    """A JPEG thumbnail of an image document (deterministic: same bytes in, same bytes out); None if unreadable."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    scale = THUMB_MAX_PX / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None


async def thumbnails(s3: S3Client, pf: ProjectFile) -> dict[UUID, bytes]:
    """The thumbnails the PDF shows, by media id — and by document id for the image documents."""
    thumbs = {ph.media_id: await s3.get_bytes(PHOTOS_BUCKET, ph.thumb_key or ph.key)
              for s in pf.sections for ph in s.photos}
    for doc in pf.documents:
        if doc.is_image and (small := document_thumbnail(await s3.get_bytes(FILES_BUCKET, doc.key))) is not None:
            thumbs[doc.id] = small
    return thumbs


async def build(settings: Settings, s3: S3Client, actor: Principal, project_id: UUID, start: date, end: date,
                kind: str) -> bytes:
    """The project file as PDF or ZIP for a reader of the project (staff of its district, its leads, supervisors)."""
    from backend.lifecycle.projectfile_pdf import render_pdf  # reportlab is loaded only when a file is made

    await access.check_reader(actor, await projects_service.get_project_row(project_id))
    pf = await gather(settings, project_id, start, end)
    pdf = render_pdf(pf, await thumbnails(s3, pf), settings.zone())
    return pdf if kind == "pdf" else await render_zip(s3, pf, pdf)
