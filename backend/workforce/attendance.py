"""Attendance (考勤): a worker links their WeChat account to their registry record, then clocks in/out.

Clock-in path (a shift start is thousands of these within minutes; see bench/workforce_clockin.py): on one
pooled connection, one query fetches the caller's worker record, the project's geofence, whether they are
on its roster, their last clock and any earlier clock with the same request_id; the pure verdict
(``rules.judge_clock``) decides against the project's geofence, parsed and prepared once per project and
fence (``_fence``); one statement binds the selfie and inserts the clock. Accepted clocks are kept at
least two years: no job deletes rows of worker_clocks (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import shapely
from asyncpg.exceptions import UniqueViolationError
from shapely.geometry import Polygon

from backend import db
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
# $1 project, $2 request_id, $3 the caller's user id.
_CONTEXT_SQL = """
SELECT w.id AS worker_id, p.id AS project_id, p.geofence AS geofence,
       EXISTS (SELECT 1 FROM project_workers pw WHERE pw.project = p.id AND pw.worker = w.id
               AND pw.exited_at IS NULL) AS on_roster,
       lc.project AS last_project, lc.kind AS last_kind, lc.at AS last_at, lc.lng AS last_lng, lc.lat AS last_lat,
       dup.id AS dup_id
FROM workers w
LEFT JOIN projects p ON p.id = $1
LEFT JOIN LATERAL (SELECT project, kind, at, lng, lat FROM worker_clocks c WHERE c.worker = w.id
                   ORDER BY c.at DESC LIMIT 1) lc ON true
LEFT JOIN LATERAL (SELECT id FROM worker_clocks d WHERE d.request_id = $2 AND d.worker = w.id) dup ON true
WHERE w."user" = $3
"""

_COLUMNS = ("id, worker, project, kind, at, received_at, lng, lat, accuracy_m, fence_distance_m, device_id, "
            "selfie_media_id, offline, request_id")
_VALUES = ("$1::uuid, $2::uuid, $3::uuid, $4::varchar, $5::timestamptz, $6::timestamptz, $7::float8, $8::float8, "
           "$9::float8, $10::float8, $11::varchar, $12::uuid, $13::boolean, $14::varchar")
# One statement binds the selfie (media's own rule: the caller's, verified, a selfie, not used elsewhere) and
# inserts the clock, or inserts nothing when the selfie does not qualify; $15 is the caller's user id.
_INSERT_SQL = f"""
WITH selfie AS (
    UPDATE media SET attached_type = 'clock', attached_id = $1::uuid::text
    WHERE $12::uuid IS NOT NULL AND id = $12::uuid
      AND {media_service.attachable_sql("$15::uuid", "'selfie'", "$1::uuid::text")}
    RETURNING id)
INSERT INTO worker_clocks ({_COLUMNS})
SELECT {_VALUES}
WHERE $12::uuid IS NULL OR EXISTS (SELECT 1 FROM selfie)
RETURNING id
"""

# project id -> (the fence as stored, its polygon parsed and prepared): a shift start asks the same fence
# thousands of times; an edited fence no longer matches its text and is parsed again.
_FENCES: dict[UUID, tuple[Any, Polygon]] = {}
_FENCES_MAX = 4096


def _fence(project_id: UUID, stored: Any) -> Polygon:
    """The project's geofence as a prepared polygon, parsed once per project and fence."""
    hit = _FENCES.get(project_id)
    if hit is not None and hit[0] == stored:
        return hit[1]
    polygon = parse_polygon(json.loads(stored) if isinstance(stored, str) else stored)
    shapely.prepare(polygon)
    if len(_FENCES) >= _FENCES_MAX:
        _FENCES.clear()
    _FENCES[project_id] = (stored, polygon)
    return polygon


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
        await User.update({User.role: Role.WORKER.value, User.token_version: User.token_version + 1}).where(
            User.id == actor.id)  # a role change ends the citizen sessions (the new pair below carries the new version)
    user = await User.select().where(User.id == actor.id).first()
    pair = await issue_tokens(settings, user, utcnow())
    return LinkOut(worker_id=row["id"], access_token=pair.access_token, refresh_token=pair.refresh_token)


async def clock(settings: Settings, actor: Principal, data: ClockIn) -> tuple[ClockOut, bool]:
    """Accept a clock-in/out or refuse it with a code; (record, created). A retried request_id returns the first."""
    actor.require_role(Role.WORKER)
    if data.at.tzinfo is None:
        raise BadRequest("VALIDATION_ERROR", detail="at needs a time zone")
    lng, lat = to_gcj02(data.lng, data.lat, data.coord_type)
    async with db.connection() as conn:
        ctx = await conn.fetchrow(_CONTEXT_SQL, data.project_id, data.request_id, actor.id)
        if ctx is None:
            raise Forbidden("NOT_A_WORKER")
        if ctx["dup_id"] is not None:
            return _out(await Clock.select().where(Clock.id == ctx["dup_id"]).first()), False
        if ctx["project_id"] is None:
            raise NotFound("PROJECT_NOT_FOUND")
        if ctx["geofence"] is None:
            raise Conflict("PROJECT_NO_GEOFENCE")
        distance = distance_to_polygon_m(_fence(ctx["project_id"], ctx["geofence"]), lng, lat)
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
            inserted = await conn.fetchval(_INSERT_SQL, *row.values(), actor.id)
        except UniqueViolationError:  # the same request_id raced in twice: the first one stands
            inserted = None
            first = await Clock.select().where((Clock.request_id == data.request_id) & (Clock.worker == ctx["worker_id"])).first()
            if first is None:
                raise Conflict("REQUEST_ID_TAKEN") from None
            return _out(first), False
    if inserted is None:  # the selfie did not qualify: media's attach() says why (and binds nothing)
        async with Clock._meta.db.transaction():
            await media_service.attach(actor.id, [data.selfie_media_id], Purpose.SELFIE, ("clock", str(clock_id)))
            raise Conflict("MEDIA_ALREADY_USED")  # it qualified after all (changed meanwhile): roll back, retry
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
