"""Attendance (考勤): a worker links their WeChat account to their registry record, then clocks in/out.

Clock-in path: one query fetches the caller's worker record, the project's geofence, whether they are
on its roster, their last clock and any earlier clock with the same request_id; the pure verdict
(``rules.judge_clock``) decides; one insert (plus binding the selfie) records it. Accepted clocks are
kept at least two years: no job deletes rows of worker_clocks (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from asyncpg.exceptions import UniqueViolationError

from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.auth.service import issue_tokens
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.geo.coords import to_gcj02
from backend.geo.distance import haversine_m
from backend.geo.districts import distance_to_polygon_m, parse_polygon
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.settings import Settings
from backend.workforce import roster
from backend.workforce.pii import PiiCipher
from backend.workforce.rules import ClockAttempt, PreviousClock, judge_clock
from backend.workforce.schemas import ClockIn, ClockOut, LinkIn, LinkOut
from backend.workforce.tables import Clock, ProjectWorker, Worker

# One round trip: the caller's worker, the project, roster membership, the last clock, a retried request.
_CONTEXT_SQL = """
SELECT w.id AS worker_id, p.id AS project_id, p.geofence AS geofence,
       EXISTS (SELECT 1 FROM project_workers pw WHERE pw.project = p.id AND pw.worker = w.id
               AND pw.exited_at IS NULL) AS on_roster,
       lc.project AS last_project, lc.kind AS last_kind, lc.at AS last_at, lc.lng AS last_lng, lc.lat AS last_lat,
       dup.id AS dup_id
FROM workers w
LEFT JOIN projects p ON p.id = {}
LEFT JOIN LATERAL (SELECT project, kind, at, lng, lat FROM worker_clocks c WHERE c.worker = w.id
                   ORDER BY c.at DESC LIMIT 1) lc ON true
LEFT JOIN LATERAL (SELECT id FROM worker_clocks d WHERE d.request_id = {} AND d.worker = w.id) dup ON true
WHERE w."user" = {}
"""


def _out(row: dict[str, Any]) -> ClockOut:
    return ClockOut(
        id=row["id"], worker_id=row["worker"], project_id=row["project"], kind=row["kind"], at=row["at"],
        received_at=row["received_at"], lng=row["lng"], lat=row["lat"], accuracy_m=row["accuracy_m"],
        fence_distance_m=row["fence_distance_m"], offline=row["offline"], selfie_media_id=row["selfie_media_id"],
    )


async def link(settings: Settings, actor: Principal, data: LinkIn) -> LinkOut:
    """Bind this WeChat user to their registry record by ID number + name (+ phone if on file); role → worker."""
    if actor.kind != "user" or actor.role not in (Role.CITIZEN, Role.WORKER):
        raise Forbidden("FORBIDDEN_ROLE")
    c = PiiCipher(settings.PII_KEY)
    row = await Worker.select().where(Worker.id_number_hash == c.lookup(data.id_number.strip().upper(), "id_number")).first()
    if row is None or row["name"] != data.name.strip():
        raise BadRequest("WORKER_LINK_MISMATCH")
    if row["phone_hash"] and (not data.phone or c.lookup(data.phone, "phone") != row["phone_hash"]):
        raise BadRequest("WORKER_LINK_MISMATCH")
    if row["user"] is not None and row["user"] != actor.id:
        raise Conflict("WORKER_ALREADY_LINKED")
    other = await Worker.select(Worker.id).where((Worker.user == actor.id) & (Worker.id != row["id"])).first()
    if other is not None:
        raise Conflict("USER_ALREADY_WORKER")
    async with Worker._meta.db.transaction():
        done = await Worker.update({Worker.user: actor.id}).where(
            (Worker.id == row["id"]) & (Worker.user.is_null() | (Worker.user == actor.id))
        ).returning(Worker.id)
        if not done:
            raise Conflict("WORKER_ALREADY_LINKED")
        await User.update({User.role: Role.WORKER.value}).where(User.id == actor.id)
    user = await User.select().where(User.id == actor.id).first()
    pair = await issue_tokens(settings, user, utcnow())
    return LinkOut(worker_id=row["id"], access_token=pair.access_token, refresh_token=pair.refresh_token)


async def clock(settings: Settings, actor: Principal, data: ClockIn) -> tuple[ClockOut, bool]:
    """Accept a clock-in/out or refuse it with a code; (record, created). A retried request_id returns the first."""
    actor.require_role(Role.WORKER)
    if data.at.tzinfo is None:
        raise BadRequest("VALIDATION_ERROR", detail="at needs a time zone")
    lng, lat = to_gcj02(data.lng, data.lat, data.coord_type)
    rows = await Worker.raw(_CONTEXT_SQL, data.project_id, data.request_id, actor.id)
    if not rows:
        raise Forbidden("NOT_A_WORKER")
    ctx = rows[0]
    if ctx["dup_id"] is not None:
        return _out(await Clock.select().where(Clock.id == ctx["dup_id"]).first()), False
    if ctx["project_id"] is None:
        raise NotFound("PROJECT_NOT_FOUND")
    fence = ctx["geofence"]
    if fence is None:
        raise Conflict("PROJECT_NO_GEOFENCE")
    polygon = parse_polygon(json.loads(fence) if isinstance(fence, str) else fence)
    distance = distance_to_polygon_m(polygon, lng, lat)
    now = utcnow()
    previous = None
    if ctx["last_at"] is not None:
        previous = PreviousClock(
            project_id=str(ctx["last_project"]), kind=ctx["last_kind"], at=ctx["last_at"],
            distance_to_this_site_m=haversine_m(ctx["last_lng"], ctx["last_lat"], lng, lat),
        )
    verdict = judge_clock(
        ClockAttempt(project_id=str(data.project_id), kind=data.kind, at=data.at, received_at=now,
                     fence_distance_m=distance, accuracy_m=data.accuracy_m, on_roster=bool(ctx["on_roster"])),
        previous, settings.CLOCK_FENCE_TOLERANCE_M,
    )
    if not verdict.accepted:
        if verdict.code == "NOT_ON_ROSTER":
            raise Forbidden(verdict.code)
        detail = {"fence_distance_m": round(distance, 1)} if verdict.code == "OUTSIDE_FENCE" else None
        raise BadRequest(verdict.code or "CLOCK_REFUSED", detail=detail)
    clock_id = uuid4()
    row = {
        "id": clock_id, "worker": ctx["worker_id"], "project": data.project_id, "kind": data.kind, "at": data.at,
        "received_at": now, "lng": lng, "lat": lat, "accuracy_m": data.accuracy_m, "fence_distance_m": distance,
        "device_id": data.device_id, "selfie_media_id": data.selfie_media_id, "offline": verdict.offline,
        "request_id": data.request_id,
    }
    try:
        async with Clock._meta.db.transaction():
            if data.selfie_media_id is not None:
                await media_service.attach(actor.id, [data.selfie_media_id], Purpose.SELFIE, ("clock", str(clock_id)))
            await Clock.insert(Clock(**row))
    except UniqueViolationError:  # the same request_id raced in twice: the first one stands
        first = await Clock.select().where((Clock.request_id == data.request_id) & (Clock.worker == ctx["worker_id"])).first()
        if first is None:
            raise Conflict("REQUEST_ID_TAKEN") from None
        return _out(first), False
    return _out(row), True


async def mine(actor: Principal, limit: int = 100) -> list[ClockOut]:
    actor.require_role(Role.WORKER)
    worker = await Worker.select(Worker.id).where(Worker.user == actor.id).first()
    if worker is None:
        raise Forbidden("NOT_A_WORKER")
    rows = await Clock.select().where(Clock.worker == worker["id"]).order_by(Clock.at, ascending=False).limit(min(max(limit, 1), 500))
    return [_out(r) for r in rows]


async def project_day(settings: Settings, actor: Principal, project_id: UUID, day: str) -> list[ClockOut]:
    """A project's clocks on one local day; a subcontractor's lead sees only its own workers'."""
    seen = await roster.scope(actor, project_id)
    try:
        start_local = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time(0), ZoneInfo(settings.TIMEZONE))
    except ValueError as exc:
        raise BadRequest("VALIDATION_ERROR", detail="day must be YYYY-MM-DD") from exc
    query = Clock.select().where(
        (Clock.project == project_id) & (Clock.at >= start_local) & (Clock.at < start_local + timedelta(days=1))
    ).order_by(Clock.at)
    if seen is not None:
        workers = ProjectWorker.select(ProjectWorker.worker).where(
            (ProjectWorker.project == project_id) & (ProjectWorker.enterprise == seen)
        )
        query = query.where(Clock.worker.is_in([r["worker"] for r in await workers] or [UUID(int=0)]))
    return [_out(r) for r in await query]
