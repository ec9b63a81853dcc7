"""Open311 GeoReport v2 over complaints (rules, no HTTP): services, requests, tokens, discovery.

Coordinates in and out are WGS-84 as the spec says (stored as GCJ-02). ``status`` is open or closed.
``expected_datetime`` is the SLA deadline, ``agency_responsible`` the station. Reading requests is public as the
spec says (no api_key) and shows only the public view of the privacy rule (backend/complaints/privacy.py): no
photo (photos are private; there is no public derivative), no address, the point coarsened, phone numbers in
descriptions masked, no contact. Creating needs an api_key with ``open311:write``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis
from redis.asyncio import Redis

from backend import ratelimit
from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.complaints import service
from backend.complaints.privacy import mask_phones, public_point
from backend.complaints.rules import OPEN, Status, effective_deadline
from backend.complaints.schemas import ComplaintCreate
from backend.complaints.tables import Category, Complaint
from backend.db import utcnow
from backend.districts.schemas import Location
from backend.districts.tables import Station
from backend.errors import AppError
from backend.geo.coords import CoordType, gcj02_to_wgs84
from backend.content_security import service as content_security
from backend.messages import MESSAGES
from backend.settings import Settings

SPEC = "http://wiki.open311.org/GeoReport_v2"
MAX_REQUESTS = 1000
PARTNER_REQUESTS_PER_HOUR = 600


class Open311Error(Exception):
    """An error in the spec's shape: [{code, description}] with HTTP 400 / 403 / 404."""

    def __init__(self, status: int, code: int | str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def _require(actor: Principal, scope: str) -> None:
    """The access policy's key_scope, answered in Open311's own error shape."""
    if not access_policy.permits(actor, "key_scope", {"scope": scope}):
        raise Open311Error(403, 403, f"api_key with scope {scope} required")


async def services() -> list[dict[str, Any]]:
    rows = await Category.select().where(Category.active.eq(True)).order_by(Category.sort)
    return [
        {"service_code": r["code"], "service_name": r["name"], "description": r["description"] or None,
         "metadata": False, "type": "realtime", "keywords": None, "group": "工程质量"}
        for r in rows
    ]


async def service_definition(code: str) -> dict[str, Any]:
    if not await Category.exists().where((Category.code == code) & Category.active.eq(True)):
        raise Open311Error(404, 404, f"service_code {code} not found")
    return {"service_code": code, "attributes": []}


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": "2026-11-24T00:00:00+08:00",
        "contact": "温州市住房和城乡建设局 工程质量监督",
        "key_service": "API keys are issued by the city's construction regulator (POST /api/v1/api-keys).",
        "endpoints": [
            {"specification": SPEC, "url": base_url, "changeset": "2026-11-24T00:00:00+08:00", "type": "production",
             "formats": ["text/xml", "application/json"]}
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _request(s3: S3Client, row: dict[str, Any], names: dict[str, str], stations: dict[int, str]) -> dict[str, Any]:
    """The public view of one complaint (privacy rule: docs/ACCESS.md)."""
    status = Status(row["status"])
    lng, lat = public_point(*gcj02_to_wgs84(row["lng"], row["lat"]))
    # issue 16: a text WeChat's content check hid is shown to the station only, never on the public API
    if await content_security.hidden_subjects("complaint_text", [str(row["id"])]):
        row = {**row, "description": MESSAGES["CONTENT_UNDER_REVIEW"]}
    notes = mask_phones(row["resolution_notes"] or row["reject_reason"] or "") or None
    return {
        "service_request_id": str(row["id"]),
        "status": "open" if status in OPEN else "closed",
        "status_notes": notes,
        "service_name": names.get(row["category"]),
        "service_code": row["category"],
        "description": mask_phones(row["description"])[:4000],
        "agency_responsible": stations.get(row["station"]) if row["station"] else "市级工程质量监督",
        "service_notice": f"编号 {row['number']}，须在时限内处理",
        "requested_datetime": _iso(row["submitted_at"]),
        "updated_datetime": _iso(row["updated_at"]),
        "expected_datetime": _iso(effective_deadline(row["deadline_at"], row["paused_at"], utcnow())),
        "address": None,  # a citizen's address is not public
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": None,  # photos are private (signed URLs only to the reporter and the station)
    }


async def _lookups() -> tuple[dict[str, str], dict[int, str]]:
    names = {r["code"]: r["name"] for r in await Category.select(Category.code, Category.name)}
    stations = {r["id"]: r["name"] for r in await Station.select(Station.id, Station.name)}
    return names, stations


async def list_requests(
    s3: S3Client, actor: Principal, *, ids: str | None, service_code: str | None, start: str | None, end: str | None,
    status: str | None,
) -> list[dict[str, Any]]:
    query = Complaint.select().where(Complaint.status != Status.MERGED.value)
    if ids:
        try:
            wanted = [UUID(part.strip()) for part in ids.split(",") if part.strip()]
        except ValueError as exc:
            raise Open311Error(400, 400, "service_request_id must be a comma-separated list of ids") from exc
        query = query.where(Complaint.id.is_in(wanted or [UUID(int=0)]))
    if service_code:
        query = query.where(Complaint.category == service_code)
    for value, op in ((start, ">="), (end, "<=")):
        if value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise Open311Error(400, 400, "dates must be ISO 8601 with a time zone") from exc
            if moment.tzinfo is None:
                raise Open311Error(400, 400, "dates must be ISO 8601 with a time zone")
            query = query.where(Complaint.submitted_at >= moment if op == ">=" else Complaint.submitted_at <= moment)
    if status:
        wanted_status = {part.strip() for part in status.split(",") if part.strip()}  # "open,closed" as the spec allows
        if not wanted_status or not wanted_status <= {"open", "closed"}:
            raise Open311Error(400, 400, "status must be open, closed or a comma-separated list of them")
        opened = [s.value for s in OPEN]
        if wanted_status == {"open"}:
            query = query.where(Complaint.status.is_in(opened))
        elif wanted_status == {"closed"}:
            query = query.where(Complaint.status.not_in(opened))
    rows = await query.order_by(Complaint.submitted_at, ascending=False).limit(MAX_REQUESTS)
    names, stations = await _lookups()
    return [await _request(s3, r, names, stations) for r in rows]


async def get_request(s3: S3Client, actor: Principal, request_id: str) -> list[dict[str, Any]]:
    try:
        complaint_id = UUID(request_id)
    except ValueError as exc:
        raise Open311Error(404, 404, f"service_request_id {request_id} not found") from exc
    row = await Complaint.select().where(Complaint.id == complaint_id).first()
    if row is None or row["status"] == Status.MERGED.value:
        raise Open311Error(404, 404, f"service_request_id {request_id} not found")
    names, stations = await _lookups()
    return [await _request(s3, row, names, stations)]


async def create_request(
    settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, form: dict[str, str]
) -> list[dict[str, Any]]:
    """POST requests: a partner system files a report; it is routed exactly like a citizen's."""
    _require(actor, "open311:write")
    await ratelimit.hit(redis, f"open311:{actor.id}", PARTNER_REQUESTS_PER_HOUR, 3600)
    code = form.get("service_code") or ""
    if not code:
        raise Open311Error(400, 400, "service_code is required")
    try:
        lat, lng = float(form["lat"]), float(form["long"])
    except (KeyError, ValueError) as exc:
        raise Open311Error(400, 400, "lat and long (WGS84) are required") from exc
    description = (form.get("description") or "").strip()
    if not 5 <= len(description) <= 2000:
        raise Open311Error(400, 400, "description must be 5..2000 characters")
    contact = {k: form[k][:200] for k in ("email", "first_name", "last_name", "phone", "device_id", "account_id", "media_url") if form.get(k)}
    data = ComplaintCreate(
        category=code, description=description, location=Location(lng=lng, lat=lat, coord_type=CoordType.WGS84),
        photo_ids=[], address=(form.get("address_string") or "")[:200],
    )
    try:
        row = await service.create(settings, redis, arq, actor, data, source=f"open311:{actor.name}"[:64], contact=contact)
    except AppError as err:
        status = err.status_code if err.status_code in (400, 403, 404) else 400
        raise Open311Error(status, status, f"{err.code}: {err.message}") from err
    return [{"service_request_id": str(row["id"]), "service_notice": f"编号 {row['number']}", "account_id": None}]


async def token(actor: Principal, value: str) -> list[dict[str, Any]]:
    """Requests are created synchronously: a token is the request id itself."""
    _require(actor, "complaints:read")
    try:
        complaint_id = UUID(value)
    except ValueError as exc:
        raise Open311Error(404, 404, f"token {value} not found") from exc
    if not await Complaint.exists().where(Complaint.id == complaint_id):
        raise Open311Error(404, 404, f"token {value} not found")
    return [{"service_request_id": value, "token": value}]


# --- XML ----------------------------------------------------------------------------------------


def _to_xml(parent: ET.Element, tag: str, value: Any) -> None:
    node = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _to_xml(node, k, v)
    elif isinstance(value, list):
        item_tag = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute"}.get(tag, "item")
        for v in value:
            _to_xml(node, item_tag, v)
    elif value is None:
        pass
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = xml_text(str(value))


# What XML 1.0 can carry (https://www.w3.org/TR/xml/#charsets): everything else is dropped, or the document is
# not well-formed and the whole feed breaks for every reader.
_NOT_XML = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def xml_text(value: str) -> str:
    """The text without characters XML 1.0 cannot carry (ESC, VT, FF, U+FFFE, lone surrogates …)."""
    return _NOT_XML.sub("", value)


def render_xml(root_tag: str, item_tag: str | None, payload: Any) -> bytes:
    """The spec's XML: <services><service>…</service></services>, <service_requests><request>…, <errors>…"""
    root = ET.Element(root_tag)
    if item_tag is None:
        for k, v in payload.items():
            _to_xml(root, k, v)
    else:
        for item in payload:
            node = ET.SubElement(root, item_tag)
            for k, v in item.items():
                _to_xml(node, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
