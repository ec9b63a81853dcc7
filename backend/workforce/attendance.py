"""Attendance (考勤): a worker links their WeChat account to their registry record, then clocks in/out.

Clock-in path (a shift start is thousands of these within minutes; see bench/workforce_clockin.py): on one
pooled connection, one query fetches the caller's worker record, the project's geofence, whether they are
on its roster, their last clock and any earlier clock with the same request_id; the pure verdict
(``rules.judge_clock``) decides against the project's geofence, parsed and prepared once per project and
fence (``_fence``); one statement binds the selfie and inserts the clock. Accepted clocks are kept at
least two years: no job deletes rows of worker_clocks (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import shapely
from asyncpg.exceptions import UniqueViolationError
from redis.asyncio import Redis
from shapely.geometry import Polygon

from backend import db, ratelimit
from backend.access import policy as access_policy
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.auth.service import issue_tokens
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.geo.coords import CoordType, parse_coord_type, to_gcj02
from backend.geo.distance import haversine_m
from backend.geo.districts import distance_to_polygon_m, parse_polygon
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.privacy import consent
from backend.projects import service as projects_service
from backend.settings import Settings
from backend.workforce import registry, roster
from backend.workforce.pii import cipher
from backend.workforce.rules import (
    ClockAttempt,
    PreviousClock,
    clock_flags,
    fence_limit_m,
    judge_clock,
    judge_coordinates,
)
from backend.workforce.schemas import BindCodeOut, ClockIn, ClockOut, LinkIn, LinkOut
from backend.workforce.tables import Clock, ProjectWorker, Worker

# One round trip: the caller's worker, the project, the current roster stint, the last clock, a retried
# request, the coordinate types this device declared before, the selfie's hashes.
# $1 project, $2 request_id, $3 the caller's user id, $4 device id, $5 selfie media id.
_CONTEXT_SQL = """
SELECT w.id AS worker_id, p.id AS project_id, p.geofence AS geofence,
       (SELECT max(pw.entered_at) FROM project_workers pw WHERE pw.project = p.id AND pw.worker = w.id
               AND pw.exited_at IS NULL) AS entered_at,
       lc.project AS last_project, lc.kind AS last_kind, lc.at AS last_at, lc.lng AS last_lng, lc.lat AS last_lat,
       dup.id AS dup_id, dup.body_hash AS dup_body_hash,
       (SELECT array_agg(DISTINCT dc.coord_type) FROM worker_clocks dc
         WHERE dc.worker = w.id AND dc.device_id = $4 AND $4 <> '') AS device_types,
       (SELECT sha256 FROM media m WHERE m.id = $5::uuid) AS selfie_sha256,
       (SELECT dhash FROM media m WHERE m.id = $5::uuid) AS selfie_dhash,
       p.stage AS project_stage,
       """ + consent.ACCEPTED_SQL.format(user="$3") + """ AS accepted
FROM (SELECT 1) one
LEFT JOIN workers w ON w."user" = $3
LEFT JOIN projects p ON p.id = $1
LEFT JOIN LATERAL (SELECT project, kind, at, lng, lat FROM worker_clocks c WHERE c.worker = w.id
                   ORDER BY c.at DESC LIMIT 1) lc ON true
LEFT JOIN LATERAL (SELECT id, body_hash FROM worker_clocks d WHERE d.request_id = $2 AND d.worker = w.id) dup ON true
"""  # always one row: consent and the project's stage are read even for a caller with no worker record

# The same selfie already proved another worker's clock, or this worker's clock on another local day: the same
# sha256 anywhere (indexed), or a perceptual hash within SELFIE_PHASH_BITS on the same project in
# the last SELFIE_NEAR_WINDOW (a bounded scan: comparing hashes cannot use an index).
# $1 sha256, $2 dHash, $3 worker, $4 the clock's time, $5 the time zone, $6 the Hamming distance allowed, $7 the project, $8 the window start.
_SELFIE_REUSED_SQL = """
SELECT EXISTS (
  SELECT 1 FROM worker_clocks r
  WHERE r.selfie_sha256 = $1 AND $1 <> ''
    AND (r.worker <> $3 OR (r.at AT TIME ZONE $5)::date <> ($4::timestamptz AT TIME ZONE $5)::date)
) OR EXISTS (
  SELECT 1 FROM worker_clocks r
  WHERE $2 <> '' AND r.project = $7 AND r.at >= $8 AND r.selfie_phash <> ''
    AND length(replace(((('x' || r.selfie_phash)::bit(64)) # (('x' || $2)::bit(64)))::text, '0', '')) <= $6
    AND (r.worker <> $3 OR (r.at AT TIME ZONE $5)::date <> ($4::timestamptz AT TIME ZONE $5)::date))
"""

_COLUMNS = ("id, worker, project, kind, at, received_at, lng, lat, accuracy_m, fence_distance_m, device_id, "
            "selfie_media_id, offline, request_id, coord_type, raw_lng, raw_lat, flags, review_status, "
            "selfie_sha256, selfie_phash, body_hash")
_VALUES = ("$1::uuid, $2::uuid, $3::uuid, $4::varchar, $5::timestamptz, $6::timestamptz, $7::float8, $8::float8, "
           "$9::float8, $10::float8, $11::varchar, $12::uuid, $13::boolean, $14::varchar, $16::varchar, $17::float8, "
           "$18::float8, $19::varchar[], $20::varchar, $21::varchar, $22::varchar, $23::varchar")
# One statement binds the selfie (media's own rule: the caller's, verified, a selfie, not used elsewhere) and
# inserts the clock, or inserts nothing when the selfie does not qualify; $15 is the caller's user id.
_INSERT_SQL = f"""
WITH selfie AS (
    UPDATE media SET attached_type = 'clock', attached_id = $1::uuid::text
    WHERE id = $12::uuid
      AND {media_service.attachable_sql("$15::uuid", "'selfie'", "$1::uuid::text")}
    RETURNING id)
INSERT INTO worker_clocks ({_COLUMNS})
SELECT {_VALUES}
WHERE EXISTS (SELECT 1 FROM selfie)
RETURNING id
"""
SELFIE_PHASH_BITS = 6  # of 64: a re-encoded or slightly cropped copy of one photo stays within a few bits
SELFIE_NEAR_WINDOW = timedelta(hours=36)  # how far back near-same (not identical) selfies are looked for on the project


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


def out(row: dict[str, Any]) -> ClockOut:
    """A clock row as the API shows it (lng/lat in GCJ-02, said so)."""
    return ClockOut(
        id=row["id"], worker_id=row["worker"], project_id=row["project"], kind=row["kind"], at=row["at"],
        received_at=row["received_at"], lng=row["lng"], lat=row["lat"], accuracy_m=row["accuracy_m"],
        fence_distance_m=row["fence_distance_m"], offline=row["offline"], selfie_media_id=row["selfie_media_id"],
        declared_coord_type=row["coord_type"], flags=list(row["flags"] or []), review_status=row["review_status"],
        review_reason=row.get("review_reason", ""),
    )


BIND_CODE_TTL = timedelta(hours=72)
BIND_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud or copied from paper
LINK_TRIES_PER_USER = 5  # per hour, per WeChat account
LINK_TRIES_PER_ID = 5  # per day, per ID number: guessing a code for one worker from many accounts


async def bind_code(settings: Settings, actor: Principal, worker_id: UUID) -> BindCodeOut:
    """The employer (or the GC, or a regulator admin) issues a one-time bind code for a worker, 72 h; a new one
    replaces the old. The worker proves they hold it when linking their WeChat account."""
    row = await registry.worker_row(worker_id)
    await access_policy.check(actor, "manage_worker", {"employer": row["employer"]})
    code = "".join(secrets.choice(BIND_CODE_ALPHABET) for _ in range(8))
    expires = utcnow() + BIND_CODE_TTL
    await Worker.update({Worker.bind_code_hash: cipher(settings).lookup(code, "bind_code"),
                         Worker.bind_code_expires_at: expires}).where(Worker.id == worker_id)
    return BindCodeOut(worker_id=worker_id, code=code, expires_at=expires)


async def link(settings: Settings, redis: Redis, actor: Principal, data: LinkIn) -> LinkOut:
    """Bind this WeChat user to their registry record: ID number + name + a factor the worker holds (the
    employer's one-time bind code); rate limited per account and per ID number. Role → worker."""
    access_policy.require(actor, "link_worker", {})
    c = cipher(settings)
    id_hash = c.lookup(data.id_number.strip().upper(), "id_number")
    await ratelimit.hit_many(redis, [(f"link:user:{actor.id}", LINK_TRIES_PER_USER, 3600),
                                     (f"link:id:{id_hash}", LINK_TRIES_PER_ID, 86400)])
    row = await Worker.select().where(Worker.id_number_hash == id_hash).first()
    if row is None or row["name"] != data.name.strip():
        raise BadRequest("WORKER_LINK_MISMATCH")
    if row["phone_hash"] and data.phone and c.lookup(data.phone, "phone") != row["phone_hash"]:
        raise BadRequest("WORKER_LINK_MISMATCH")
    code = data.bind_code.strip().upper()
    if not code or not row["bind_code_hash"] or row["bind_code_expires_at"] is None or row["bind_code_expires_at"] < utcnow() \
            or not hmac.compare_digest(c.lookup(code, "bind_code"), row["bind_code_hash"]):
        raise BadRequest("WORKER_BIND_CODE_INVALID")
    if row["user"] is not None and row["user"] != actor.id:
        raise Conflict("WORKER_ALREADY_LINKED")
    other = await Worker.select(Worker.id).where((Worker.user == actor.id) & (Worker.id != row["id"])).first()
    if other is not None:
        raise Conflict("USER_ALREADY_WORKER")
    async with Worker._meta.db.transaction():
        done = await Worker.update({Worker.user: actor.id, Worker.bind_code_hash: "", Worker.bind_code_expires_at: None}).where(
            (Worker.id == row["id"]) & (Worker.user.is_null() | (Worker.user == actor.id))
            & (Worker.bind_code_hash == row["bind_code_hash"])
        ).returning(Worker.id)
        if not done:
            raise Conflict("WORKER_ALREADY_LINKED")
        await User.update({User.role: Role.WORKER.value, User.token_version: User.token_version + 1}).where(
            User.id == actor.id)  # a role change ends the citizen sessions (the new pair below carries the new version)
    await ratelimit.reset(redis, f"link:user:{actor.id}")
    await ratelimit.reset(redis, f"link:id:{id_hash}")
    user = await User.select().where(User.id == actor.id).first()
    pair = await issue_tokens(settings, user, utcnow())
    return LinkOut(worker_id=row["id"], access_token=pair.access_token, refresh_token=pair.refresh_token)


@asynccontextmanager
async def _locked_transaction(conn: asyncpg.Connection, user_id: UUID) -> AsyncIterator[None]:
    """BEGIN and the worker's transaction-scoped advisory lock in one round trip (a simple-query batch: the
    id is a UUID, formatted by uuid itself); COMMIT on success, ROLLBACK on any error."""
    await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('clock:{UUID(str(user_id))}', 0))")
    try:
        yield
    except BaseException:
        if not conn.is_closed():
            await conn.execute("ROLLBACK")
        raise
    else:
        await conn.execute("COMMIT")


def _body_hash(data: ClockIn) -> str:
    """What a request_id stands for: the request's body without the id (a retry sends the same)."""
    body = msgspec.structs.asdict(data)
    body.pop("request_id", None)
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


async def clock(settings: Settings, actor: Principal, data: ClockIn) -> tuple[ClockOut, bool]:
    """Accept a clock-in/out or refuse it with a code; (record, created). A retried request_id returns the first.

    Serialized per worker: a transaction-scoped advisory lock on the caller makes the duplicate check and the
    insert one step, so two concurrent clocks of one worker cannot both pass DUPLICATE_WINDOW.
    """
    access_policy.require(actor, "worker", {})
    if data.at.tzinfo is None:
        raise BadRequest("VALIDATION_ERROR", detail="at needs a time zone")
    if data.selfie_media_id is None:  # 建市〔2019〕18号 (standards.md §4.1): attendance with image archives
        raise BadRequest("SELFIE_REQUIRED")
    declared = parse_coord_type(data.coord_type)
    other_type = CoordType.WGS84 if declared is CoordType.GCJ02 else CoordType.GCJ02
    lng, lat = to_gcj02(data.lng, data.lat, declared)
    as_other = to_gcj02(data.lng, data.lat, other_type)  # the same numbers read under the other label
    pair_gap = None
    if data.alt_lng is not None and data.alt_lat is not None:
        pair_gap = haversine_m(lng, lat, *to_gcj02(data.alt_lng, data.alt_lat, other_type))
    body_hash = _body_hash(data)
    clock_id = uuid4()
    try:
        async with db.connection() as conn, _locked_transaction(conn, actor.id):
            ctx = await conn.fetchrow(_CONTEXT_SQL, data.project_id, data.request_id, actor.id, data.device_id,
                                      data.selfie_media_id)
            # One statement read what three used to (consent, the project's stage, the worker's context); the
            # refusals keep their order: consent first (issue 23), then the permit gate, then the worker.
            consent.check_accepted(actor, "clock", ctx["accepted"])
            if ctx["project_stage"] is not None:
                projects_service.check_site_activity(data.project_id, ctx["project_stage"])
            if ctx["worker_id"] is None:
                raise Forbidden("NOT_A_WORKER")
            if ctx["dup_id"] is not None:
                if ctx["dup_body_hash"] and ctx["dup_body_hash"] != body_hash:
                    raise Conflict("REQUEST_ID_REUSED", detail={"request_id": data.request_id})
                return out(await Clock.select().where(Clock.id == ctx["dup_id"]).first()), False
            if ctx["project_id"] is None:
                raise NotFound("PROJECT_NOT_FOUND")
            if ctx["geofence"] is None:
                raise Conflict("PROJECT_NO_GEOFENCE")
            fence = _fence(ctx["project_id"], ctx["geofence"])
            coords = judge_coordinates(
                distance_to_polygon_m(fence, lng, lat), distance_to_polygon_m(fence, *as_other),
                fence_limit_m(settings.CLOCK_FENCE_TOLERANCE_M, data.accuracy_m), pair_gap, declared.value,
                set(ctx["device_types"] or ()))
            distance = coords.distance_m
            now = utcnow()
            previous = None
            if ctx["last_at"] is not None:
                previous = PreviousClock(
                    project_id=str(ctx["last_project"]), kind=ctx["last_kind"], at=ctx["last_at"],
                    distance_to_this_site_m=haversine_m(ctx["last_lng"], ctx["last_lat"], lng, lat),
                )
            verdict = judge_clock(
                ClockAttempt(project_id=str(data.project_id), kind=data.kind, at=data.at, received_at=now,
                             fence_distance_m=distance, accuracy_m=data.accuracy_m,
                             on_roster=ctx["entered_at"] is not None),
                previous, settings.CLOCK_FENCE_TOLERANCE_M,
            )
            if not verdict.accepted:
                if verdict.code == "NOT_ON_ROSTER":
                    raise Forbidden(verdict.code)
                detail = {"fence_distance_m": round(distance, 1)} if verdict.code == "OUTSIDE_FENCE" else None
                raise BadRequest(verdict.code or "CLOCK_REFUSED", detail=detail)
            sha, dh = ctx["selfie_sha256"] or "", ctx["selfie_dhash"] or ""
            reused = bool(sha or dh) and await conn.fetchval(
                _SELFIE_REUSED_SQL, sha, dh, ctx["worker_id"], data.at, settings.TIMEZONE, SELFIE_PHASH_BITS,
                data.project_id, data.at - SELFIE_NEAR_WINDOW)
            flags = clock_flags(
                offline=verdict.offline, outside_tolerance=distance > settings.CLOCK_FENCE_TOLERANCE_M,
                before_entry=data.at < ctx["entered_at"], selfie_reused=reused,
                coordinates=coords.flags)
            row = {
                "id": clock_id, "worker": ctx["worker_id"], "project": data.project_id, "kind": data.kind,
                "at": data.at, "received_at": now, "lng": lng, "lat": lat, "accuracy_m": data.accuracy_m,
                "fence_distance_m": distance, "device_id": data.device_id, "selfie_media_id": data.selfie_media_id,
                "offline": verdict.offline, "request_id": data.request_id,
            }
            extra = {
                "coord_type": declared.value, "raw_lng": data.lng, "raw_lat": data.lat, "flags": flags,
                "review_status": "pending" if flags else "none", "selfie_sha256": sha, "selfie_phash": dh,
                "body_hash": body_hash,
            }
            inserted = await conn.fetchval(_INSERT_SQL, *row.values(), actor.id, *extra.values())
            if inserted is not None:
                return out({**row, **extra}), True
    except UniqueViolationError:  # another worker's clock holds this request_id
        raise Conflict("REQUEST_ID_TAKEN") from None
    # The selfie did not qualify: media's attach() says why (and binds nothing).
    async with Clock._meta.db.transaction():
        await media_service.attach(actor.id, [data.selfie_media_id], Purpose.SELFIE, ("clock", str(clock_id)))
        raise Conflict("MEDIA_ALREADY_USED")  # it qualified after all (changed meanwhile): roll back, retry


async def mine(actor: Principal, limit: int = 100) -> list[ClockOut]:
    access_policy.require(actor, "worker", {})
    worker = await Worker.select(Worker.id).where(Worker.user == actor.id).first()
    if worker is None:
        raise Forbidden("NOT_A_WORKER")
    rows = await Clock.select().where(Clock.worker == worker["id"]).order_by(Clock.at, ascending=False).limit(min(max(limit, 1), 500))
    return [out(r) for r in rows]


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
    return [out(r) for r in await query]
