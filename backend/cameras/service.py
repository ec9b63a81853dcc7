"""Cameras (工地摄像头): registry, calibration, uploaded frames and the alerts list, with access checks — no HTTP.

The analysis itself (detector, rules, evidence drawing) runs in the vision worker (`vision/`), which
records its results through `backend.cameras.recording`. PostgreSQL is the queue of uploaded frames
(`camera_frames.status`); a Redis list is only the doorbell that wakes the worker, so a lost doorbell
delays a frame, never loses it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID, uuid4

import msgspec
import structlog
from asyncpg.exceptions import UniqueViolationError
from redis.asyncio import Redis

from backend.access import policy as access_policy
from backend.access.addresses import (
    check_outbound_url,
    split_credentials,
    strip_credentials,
    with_credentials,
)
from backend.auth.principal import Principal, Role
from backend.cameras.schemas import (
    AlertOut,
    Analysis,
    CalibrationIn,
    CalibrationKind,
    CameraCreate,
    CameraOut,
    CameraUpdate,
    FrameOut,
    Source,
    SupportSystem,
)
from backend.cameras.tables import Camera, CameraAlert, CameraFrame, CameraLabel
from backend.clients.s3 import S3Client
from backend.db import utcnow
from backend.errors import AppError, BadRequest, Conflict, NotFound
from backend.media.images import ImageRejected, verify_image
from backend.projects import service as projects_service
from backend.settings import Settings, get_settings
from backend.workforce.pii import cipher  # the one AES-GCM helper (PII keys, key id beside the value)

log = structlog.get_logger("zhijian.cameras")

DOORBELL_KEY = "zhijian:vision:frames"  # LPUSH frame id; the vision worker BLPOPs it
EVIDENCE_BUCKET = "evidence"
FRAME_LEASE_S = 300  # a frame claimed longer ago than this by a worker that died is queued again
RISK_TEXT = {"no_helmet": "作业人员未佩戴安全帽", "spacing": "模板支撑立杆间距超出专项方案"}


# ---------------------------------------------------------------- access


async def _project(project_id: UUID) -> dict[str, Any]:
    return await projects_service.get_project_row(project_id)


async def camera_row(camera_id: UUID) -> dict[str, Any]:
    row = await Camera.select().where(Camera.id == camera_id).output(load_json=True).first()
    if row is None:
        raise NotFound("CAMERA_NOT_FOUND")
    return row


# ---------------------------------------------------------------- validation (pure)


def check_source(source: Source, url: str) -> str:
    """The URL a source needs: http(s) for snapshots, rtsp(s) for streams, none for uploads."""
    url = url.strip()
    scheme = urlparse(url).scheme.lower() if url else ""
    if source is Source.HTTP_SNAPSHOT and (scheme not in ("http", "https") or not urlparse(url).netloc):
        raise BadRequest("CAMERA_URL_INVALID", detail={"source": source.value, "expected": "http(s)://…"})
    if source is Source.RTSP and (scheme not in ("rtsp", "rtsps") or not urlparse(url).netloc):
        raise BadRequest("CAMERA_URL_INVALID", detail={"source": source.value, "expected": "rtsp://…"})
    if source is Source.UPLOAD and url:
        raise BadRequest("CAMERA_URL_INVALID", detail={"source": source.value, "expected": "no URL"})
    if url:  # no fetching from inside the network (SSRF): loopback, private, link-local refused unless allow-listed
        check_outbound_url(url, get_settings().OUTBOUND_ALLOW, schemes=("http", "https", "rtsp", "rtsps"))
    return url


def _seal(url: str) -> tuple[str, str]:
    """The URL without credentials, and its credentials encrypted (AES-GCM, PII_KEY, context camera_url)."""
    clean, userinfo = split_credentials(url)
    return clean, cipher(get_settings()).encrypt(userinfo, "camera_url") if userinfo else ""


def fetch_url(settings: Settings, camera: dict[str, Any]) -> str:
    """The URL the vision worker fetches: credentials put back, and the address checked again at fetch time
    (a name may resolve inside the network later); ValueError when refused, like any fetch failure."""
    url = camera["url"]
    try:
        check_outbound_url(url, settings.OUTBOUND_ALLOW, schemes=("http", "https", "rtsp", "rtsps"))
    except AppError as exc:
        raise ValueError("outbound address refused") from exc
    secret = camera.get("url_credentials") or ""
    return with_credentials(url, cipher(settings).decrypt(secret, "camera_url")) if secret else url


def check_calibration(cal: CalibrationIn) -> CalibrationIn:
    """Enough measurements for the kind; target points distinct enough to fit a homography."""
    if cal.kind is CalibrationKind.TARGET:
        if len(cal.corners_px) < 4 or len(cal.corners_px) != len(cal.corners_m):
            raise BadRequest("CALIBRATION_INVALID", detail="target: at least 4 matching corners_px / corners_m")
        xs = sorted({(round(x, 6), round(y, 6)) for x, y in cal.corners_m})
        if len(xs) < 4:
            raise BadRequest("CALIBRATION_INVALID", detail="target: corners_m must be distinct")
    elif cal.kind is CalibrationKind.TUBE:
        if not cal.widths_px:
            raise BadRequest("CALIBRATION_INVALID", detail="tube: widths_px needed")
    elif cal.kind is CalibrationKind.SCALE and cal.pixels_per_metre is None:
        raise BadRequest("CALIBRATION_INVALID", detail="scale: pixels_per_metre needed")
    if cal.rectify is not None and abs(_det3(cal.rectify)) < 1e-12:
        raise BadRequest("CALIBRATION_INVALID", detail="rectify is singular")
    return cal


def _det3(m: list[list[float]]) -> float:
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


def _calibration_json(cal: CalibrationIn | None) -> str | None:
    return None if cal is None else msgspec.json.encode(cal).decode()


def thresholds_in_force(row: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """The camera's own alert thresholds, else the shipped defaults (chosen in the operating-point JSON)."""
    s = settings or get_settings()
    return {
        "helmet_conf": row.get("helmet_conf") if row.get("helmet_conf") is not None else s.VISION_HELMET_CONF,
        "upright_conf": row.get("upright_conf") if row.get("upright_conf") is not None else s.VISION_UPRIGHT_CONF,
        "ledger_guard": s.VISION_LEDGER_GUARD,
    }


def check_settings_change(actor: Principal, row: dict[str, Any] | None, data: CameraCreate | CameraUpdate) -> None:
    """The regulated party (a project lead) may not change the plan spacing, the ceiling or the allowance
    of a registered camera, nor loosen a threshold (raise it above the one in force: fewer alerts);
    the station (staff of the district) may (access policy change_camera_settings). On registration a lead files
    the approved plan's values."""
    station_only: list[dict[str, Any]] = []
    if row is not None:
        for field in ("plan_spacing_m", "plan_ref", "support_system", "allowance_m"):
            value = getattr(data, field)
            current = row[field]
            if value is not None and (value.value if isinstance(value, SupportSystem) else value) != current:
                station_only.append({"field": field})
    in_force = thresholds_in_force(row or {})
    for field in ("helmet_conf", "upright_conf"):
        value = getattr(data, field)
        if value is not None and value > in_force[field] + 1e-9:
            station_only.append({"field": field, "in_force": in_force[field]})
    access_policy.require(actor, "change_camera_settings", {"station_only": station_only})


def _out(row: dict[str, Any]) -> CameraOut:
    cal = row["calibration"]
    if isinstance(cal, str):
        cal = json.loads(cal)
    return CameraOut(
        id=row["id"], project_id=row["project"], name=row["name"], source=Source(row["source"]), url=strip_credentials(row["url"]),
        interval_s=row["interval_s"], enabled=row["enabled"], plan_spacing_m=row["plan_spacing_m"],
        plan_ref=row["plan_ref"], support_system=SupportSystem(row["support_system"]), allowance_m=row["allowance_m"],
        calibration=msgspec.convert(cal, CalibrationIn) if cal else None, last_frame_at=row["last_frame_at"],
        last_error="fetch_failed" if row["last_error"] else "", created_at=row["created_at"],  # never the remote's text
        **{k: v for k, v in thresholds_in_force(row).items() if k != "ledger_guard"},
        thresholds_default=row.get("helmet_conf") is None and row.get("upright_conf") is None,
        label_consent=bool(row.get("label_consent")),
    )


# ---------------------------------------------------------------- registry


async def create_camera(actor: Principal, data: CameraCreate) -> CameraOut:
    """Register a camera on a project (staff of its district or its lead)."""
    project = await _project(data.project_id)
    await access_policy.check(actor, "manage_camera", project)
    url, secret = _seal(check_source(data.source, data.url))
    check_settings_change(actor, None, data)
    if data.calibration is not None:
        check_calibration(data.calibration)
    camera_id = uuid4()
    try:
        await Camera.insert(Camera(
            id=camera_id, project=data.project_id, name=data.name.strip(), source=data.source.value, url=url,
            url_credentials=secret, interval_s=data.interval_s, enabled=data.enabled, plan_spacing_m=data.plan_spacing_m,
            plan_ref=data.plan_ref, support_system=data.support_system.value, allowance_m=data.allowance_m,
            calibration=_calibration_json(data.calibration), created_by=actor.id if actor.kind == "user" else None,
            helmet_conf=data.helmet_conf, upright_conf=data.upright_conf, label_consent=data.label_consent,
        ))
    except UniqueViolationError as exc:
        raise Conflict("CAMERA_DUPLICATE") from exc
    return _out(await camera_row(camera_id))


async def get_camera(actor: Principal, camera_id: UUID) -> CameraOut:
    row = await camera_row(camera_id)
    await access_policy.check(actor, "read_camera", await _project(row["project"]))
    return _out(row)


async def list_cameras(actor: Principal, project_id: UUID) -> list[CameraOut]:
    await access_policy.check(actor, "read_camera", await _project(project_id))
    rows = await Camera.select().where(Camera.project == project_id).order_by(Camera.name).output(load_json=True)
    return [_out(r) for r in rows]


async def _tell_station_camera_off(settings: Settings, arq: Any, actor: Principal, row: dict[str, Any],
                                   project: dict[str, Any]) -> None:
    """Separation of duties: the regulated party switching off its own camera is told to the district's station."""
    from backend.accounts.tables import User
    from backend.notifications import service as notifications
    from backend.notifications.schemas import Urgency

    staff = await User.select(User.id).where(
        (User.district == project["district"]) & User.role.is_in([Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value])
        & (User.is_active == True))  # noqa: E712 - SQL
    await notifications.notify(
        [s["id"] for s in staff], "generic_notice",
        {"title": "工地摄像头被关闭", "content": f"{project['name']}：{row['name']}（{actor.name or '项目负责人'}关闭）",
         "time": utcnow(), "district_adcode": project["district"]},
        dedup_key=f"camera_disabled:{row['id']}:{utcnow().isoformat()}", urgency=Urgency.HIGH, settings=settings,
        arq=arq, subject=("camera", str(row["id"])),
    )


async def update_camera(actor: Principal, camera_id: UUID, data: CameraUpdate, *, settings: Settings | None = None,
                        arq: Any = None) -> CameraOut:
    row = await camera_row(camera_id)
    project = await _project(row["project"])
    await access_policy.check(actor, "manage_camera", project)
    check_settings_change(actor, row, data)
    changes: dict[Any, Any] = {}
    if data.url is not None:
        changes[Camera.url], changes[Camera.url_credentials] = _seal(check_source(Source(row["source"]), data.url))
    for field, column in (("name", Camera.name), ("interval_s", Camera.interval_s), ("enabled", Camera.enabled),
                          ("plan_spacing_m", Camera.plan_spacing_m), ("plan_ref", Camera.plan_ref),
                          ("allowance_m", Camera.allowance_m), ("helmet_conf", Camera.helmet_conf),
                          ("upright_conf", Camera.upright_conf), ("label_consent", Camera.label_consent)):
        value = getattr(data, field)
        if value is not None:
            changes[column] = value.strip() if isinstance(value, str) and field == "name" else value
    if data.support_system is not None:
        changes[Camera.support_system] = data.support_system.value
    if changes:
        changes[Camera.updated_at] = utcnow()
        changes[Camera.next_due_at] = utcnow()  # a changed camera is looked at again now
        try:
            async with Camera._meta.db.transaction():
                await Camera.update(changes).where(Camera.id == camera_id)
                if data.label_consent is False and row["label_consent"]:
                    await withdraw_consent(camera_id)
                if data.enabled is False and row["enabled"] and not actor.is_staff:
                    await _tell_station_camera_off(settings or get_settings(), arq, actor, row, project)
        except UniqueViolationError as exc:
            raise Conflict("CAMERA_DUPLICATE") from exc
    return _out(await camera_row(camera_id))


async def withdraw_consent(camera_id: UUID) -> None:
    """Consent withdrawn: the camera's labelled frames go at once (their images by the next purge)."""
    await CameraLabel.update({CameraLabel.expires_at: utcnow()}).where(CameraLabel.camera == camera_id)


async def set_calibration(actor: Principal, camera_id: UUID, data: CalibrationIn) -> CameraOut:
    """Store the measurements the camera's image → plane calibration is rebuilt from."""
    row = await camera_row(camera_id)
    await access_policy.check(actor, "manage_camera", await _project(row["project"]))
    check_calibration(data)
    await Camera.update({Camera.calibration: _calibration_json(data), Camera.updated_at: utcnow()}).where(
        Camera.id == camera_id)
    return _out(await camera_row(camera_id))


# ---------------------------------------------------------------- uploaded frames


async def submit_frame(
    settings: Settings, redis: Redis, s3: S3Client, actor: Principal, camera_id: UUID, content: bytes
) -> UUID:
    """Verify an uploaded frame, keep it in the evidence bucket and queue it for the vision worker."""
    row = await camera_row(camera_id)
    await access_policy.check(actor, "manage_camera", await _project(row["project"]))
    try:
        image = await asyncio.to_thread(verify_image, content)
    except ImageRejected as exc:
        raise BadRequest("IMAGE_REJECTED", detail={"reason": exc.reason}) from exc
    frame_id = uuid4()
    key = f"frames/{camera_id}/{frame_id}.jpg"
    await s3.put_bytes(EVIDENCE_BUCKET, key, image.jpeg, "image/jpeg")
    await CameraFrame.insert(CameraFrame(
        id=frame_id, camera=camera_id, source="upload", status="queued", frame_key=key, sha256=image.sha256,
        width=image.width, height=image.height, uploaded_by=actor.id if actor.kind == "user" else None,
    ))
    try:
        await redis.lpush(DOORBELL_KEY, str(frame_id))
    except Exception:  # noqa: BLE001 - the worker also polls the table; the frame is not lost
        log.warning("vision_doorbell_failed", frame=str(frame_id))
    return frame_id


async def _frame_row(frame_id: UUID) -> dict[str, Any]:
    row = await CameraFrame.select().where(CameraFrame.id == frame_id).output(load_json=True).first()
    if row is None:
        raise NotFound("FRAME_NOT_FOUND")
    return row


async def _frame_out(s3: S3Client, row: dict[str, Any]) -> FrameOut:
    result = row["result"]
    if isinstance(result, str):
        result = json.loads(result)
    alerts = await CameraAlert.select(CameraAlert.id).where(CameraAlert.frame == row["id"]).order_by(CameraAlert.rule)
    url = await s3.presigned_get(EVIDENCE_BUCKET, row["evidence_key"]) if row["evidence_key"] else None
    return FrameOut(
        id=row["id"], camera_id=row["camera"], source=row["source"], status=row["status"],
        analysis=msgspec.convert(result, Analysis) if result else None, alerts=[a["id"] for a in alerts],
        evidence_url=url, error=row["error"], created_at=row["created_at"], analysed_at=row["analysed_at"],
    )


async def get_frame(s3: S3Client, actor: Principal, frame_id: UUID, wait_s: float = 0.0) -> FrameOut:
    """A frame and its analysis; with `wait_s`, wait that long for a queued frame to be analysed."""
    row = await _frame_row(frame_id)
    camera = await camera_row(row["camera"])
    await access_policy.check(actor, "read_camera", await _project(camera["project"]))
    deadline = asyncio.get_running_loop().time() + wait_s
    while row["status"] in ("queued", "analysing") and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        row = await _frame_row(frame_id)
    return await _frame_out(s3, row)


# ---------------------------------------------------------------- alerts


def alert_out(row: dict[str, Any], url: str | None) -> AlertOut:
    measured = row["measured"]
    if isinstance(measured, str):
        measured = json.loads(measured)
    return AlertOut(
        id=row["id"], camera_id=row["camera"], camera_name=row["camera_name"], project_id=row["project"],
        frame_id=row["frame"], rule=row["rule"], verdict=row["verdict"], measured=measured, evidence_url=url,
        repeats=row["repeats"], created_at=row["created_at"], last_seen_at=row["last_seen_at"],
        figures=_json(row.get("figures")) or {}, review=row.get("review") or "", review_note=row.get("review_note") or "",
        reviewed_at=row.get("reviewed_at"),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def list_alerts(
    s3: S3Client, actor: Principal, project_id: UUID, camera_id: UUID | None, rule: str | None,
    since: datetime | None, limit: int, offset: int,
) -> list[AlertOut]:
    """A project's camera alerts, newest first, each with a 5-minute link to its evidence image."""
    await access_policy.check(actor, "read_camera", await _project(project_id))
    query = CameraAlert.select(*CameraAlert.all_columns(), CameraAlert.camera.name.as_alias("camera_name")).where(
        CameraAlert.project == project_id)
    if camera_id is not None:
        query = query.where(CameraAlert.camera == camera_id)
    if rule:
        query = query.where(CameraAlert.rule == rule)
    if since is not None:
        query = query.where(CameraAlert.created_at >= since)
    rows = await query.order_by(CameraAlert.created_at, ascending=False).limit(limit).offset(offset).output(
        load_json=True)
    return [alert_out(r, await s3.presigned_get(EVIDENCE_BUCKET, r["evidence_key"]) if r["evidence_key"] else None)
            for r in rows]
