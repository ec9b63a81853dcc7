"""Complaints (投诉): intake, dispatch, the lifecycle and its SLA clock — rules, no HTTP.

Every change goes through ``_transition`` (the state table in rules.py), which writes the new status
only if nobody changed it meanwhile and records an event row: the timeline and the audit trail.
Pushes are outbox rows written in the transaction of the change they report (delivered after its commit);
SLA timer jobs go to Redis only after the commit (the timer rows in PostgreSQL are the truth).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog
from arq.connections import ArqRedis
from piccolo.query import WhereRaw
from redis.asyncio import Redis

from backend import ratelimit
from backend.access import policy as access_policy
from backend.access import scope as access_scope
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.clients.s3 import S3Client
from backend.complaints import dispatch, sla
from backend.complaints.privacy import mask_phones, public_point
from backend.complaints.rules import (
    FINAL,
    OPEN,
    Status,
    TransitionRefused,
    deadline,
    is_overdue,
    next_status,
    overdue_sql,
)
from backend.complaints.schemas import (
    CategoryOut,
    ComplaintBrief,
    ComplaintCitizenView,
    ComplaintCreate,
    ComplaintStaffView,
    PhotoOut,
    SimilarComplaint,
    TimelineEntry,
    TransferIn,
)
from backend.complaints.tables import Category, Complaint, Event, Supporter
from backend.content_security import service as content_security
from backend.credit import service as credit_service
from backend.db import utcnow
from backend.districts.tables import District, Station
from backend.errors import BadRequest, Conflict, NotFound
from backend.geo.coords import to_gcj02
from backend.geo.distance import bbox, haversine_m
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.messages import MESSAGES
from backend.notifications import service as notifications
from backend.outbox import service as outbox
from backend.privacy import consent
from backend.projects import service as projects_service
from backend.projects.tables import Project
from backend.settings import Settings

log = structlog.get_logger("zhijian.complaints")

SIMILAR_RADIUS_M = 50.0
SIMILAR_WINDOW = timedelta(days=7)
# What people are told (plain words; the template fields are short).
UNASSIGNED_NOTE = "无值班检查员，请即派人"
CITIZEN_BREACH_NOTE = "处理已超时限，已上报监督站督办"
CITIZEN_AUTOCLOSE_NOTE = "7日内未确认，已自动办结"

SIMILAR_PER_HOUR = 30  # per citizen: looking around a point is not a way to map other people's reports
JOIN_PER_DAY = 10  # per citizen
STATUS_PHRASE = {
    Status.SUBMITTED: "已提交",
    Status.DISPATCHED: "已分派",
    Status.ACCEPTED: "已受理",
    Status.IN_PROGRESS: "处理中",
    Status.WAITING_INFO: "待补充",
    Status.RESOLVED: "已处理",
    Status.CLOSED: "已办结",
    Status.REJECTED: "不予受理",
    Status.REOPENED: "重新处理",
    Status.MERGED: "已合并",
}

DEFAULT_CATEGORIES = [
    ("shoddy_work", "偷工减料", "偷工减料、以次充好、材料替换", 1),
    ("structural_crack", "结构裂缝", "梁、板、柱、墙出现裂缝或变形", 2),
    ("leak", "渗漏", "屋面、外墙、地下室、卫生间渗漏", 3),
    ("formwork_scaffold", "模板支架脚手架隐患", "高支模、脚手架搭设不规范或有坍塌危险", 4),
    ("suspect_material", "可疑材料", "钢筋、水泥、混凝土等材料来源或质量可疑", 5),
    ("other", "其他质量问题", "其他工程质量问题", 9),
]


async def ensure_categories() -> None:
    """Create the default categories that do not exist (configurable afterwards)."""
    for code, name, description, sort in DEFAULT_CATEGORIES:
        await Category.raw(
            "INSERT INTO complaint_categories (code, name, description, sla_hours, active, sort)"
            " VALUES ({}, {}, {}, NULL, true, {}) ON CONFLICT (code) DO NOTHING",
            code, name, description, sort,
        )


def _sla_seconds(settings: Settings, category: dict[str, Any]) -> float:
    return category["sla_hours"] * 3600.0 if category["sla_hours"] else settings.COMPLAINT_SLA_S


async def categories(settings: Settings) -> list[CategoryOut]:
    rows = await Category.select().where(Category.active.eq(True)).order_by(Category.sort)
    return [
        CategoryOut(code=r["code"], name=r["name"], description=r["description"], sla_hours=_sla_seconds(settings, r) / 3600)
        for r in rows
    ]


async def upsert_category(
    settings: Settings, actor: Principal, code: str, name: str, description: str, sla_hours: float | None, active: bool,
    sort: int,
) -> CategoryOut:
    """City-wide admins configure categories (an Open311 service each) and their SLA."""
    access_policy.require(actor, "city_admin", {"kind": "complaint_category"})
    await Category.raw(
        "INSERT INTO complaint_categories (code, name, description, sla_hours, active, sort) VALUES ({}, {}, {}, {}, {}, {})"
        " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
        " sla_hours = EXCLUDED.sla_hours, active = EXCLUDED.active, sort = EXCLUDED.sort",
        code, name, description, sla_hours, active, sort,
    )
    _category_cache.pop(code, None)
    row = await Category.select().where(Category.code == code).first()
    return CategoryOut(code=row["code"], name=row["name"], description=row["description"],
                       sla_hours=_sla_seconds(settings, row) / 3600)


_category_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_CATEGORY_TTL_S = 30.0


async def _category(code: str) -> dict[str, Any]:
    """An active category (cached briefly: read on every report, changed a few times a year)."""
    hit = _category_cache.get(code)
    if hit is None or time.monotonic() - hit[0] > _CATEGORY_TTL_S:
        row = await Category.select().where((Category.code == code) & Category.active.eq(True)).first()
        hit = (time.monotonic(), row)
        _category_cache[code] = hit
    if hit[1] is None:
        raise BadRequest("CATEGORY_UNKNOWN", detail={"category": code})
    return hit[1]


async def _row(complaint_id: UUID, lock: bool = False) -> dict[str, Any]:
    if lock:
        rows = await Complaint.raw("SELECT * FROM complaints WHERE id = {} FOR UPDATE", complaint_id)
        row = rows[0] if rows else None
    else:
        row = await Complaint.select().where(Complaint.id == complaint_id).first()
    if row is None:
        raise NotFound("COMPLAINT_NOT_FOUND")
    return row


async def _event(
    complaint_id: UUID, kind: str, actor: UUID | None, reason: str = "", from_status: str = "", to_status: str = "",
    data: dict[str, Any] | None = None, public: bool = True,
) -> None:
    await Event.insert(
        Event(
            complaint=complaint_id, kind=kind, from_status=from_status, to_status=to_status, actor=actor,
            reason=reason[:500], data=json.dumps(data or {}, ensure_ascii=False, default=str), public=public,
        )
    )


async def _transition(
    row: dict[str, Any], action: str, actor: UUID | None, reason: str = "", changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None, kind: str | None = None,
) -> dict[str, Any]:
    """Apply one allowed transition (optimistic on the current status) and record it."""
    current = Status(row["status"])
    try:
        target = next_status(action, current, row["paused_from"])
    except TransitionRefused as exc:
        raise Conflict("COMPLAINT_STATE", detail={"action": action, "status": current.value}) from exc
    values = {"status": target.value, "updated_at": utcnow(), **(changes or {})}
    sets = ", ".join(f"{k} = {{}}" for k in values)
    rows = await Complaint.raw(
        f"UPDATE complaints SET {sets} WHERE id = {{}} AND status = {{}} RETURNING *",
        *values.values(), row["id"], current.value,
    )
    if not rows:
        raise Conflict("COMPLAINT_CHANGED")
    await _event(row["id"], kind or action, actor, reason, current.value, target.value, data)
    return rows[0]


# --- who may see and act ------------------------------------------------------------------------


async def _is_supporter(complaint_id: UUID, user_id: UUID) -> bool:
    return await Supporter.exists().where((Supporter.complaint == complaint_id) & (Supporter.user == user_id))


def staff_can(actor: Principal, row: dict[str, Any]) -> bool:
    """Whether staff see this complaint in full (access policy: staff_read_complaint)."""
    return access_policy.permits(actor, "staff_read_complaint", row)


# --- notifications ------------------------------------------------------------------------------


async def _tell_citizens(settings: Settings, arq: ArqRedis | None, row: dict[str, Any], note: str, key: str) -> None:
    people = [row["citizen"]] if row["citizen"] else []
    people += [r["user"] for r in await Supporter.select(Supporter.user).where(Supporter.complaint == row["id"])]
    if not people:
        return
    await notifications.notify(
        people, "complaint_status",
        {"summary": row["description"], "status": STATUS_PHRASE[Status(row["status"])], "time": utcnow(), "note": note},
        dedup_key=f"complaint:{row['id']}:{key}", settings=settings, arq=arq, subject=("complaint", str(row["id"])),
    )


async def _tell_assignee(settings: Settings, arq: ArqRedis | None, row: dict[str, Any], key: str) -> None:
    if row["assignee"] is None:
        return
    await notifications.notify(
        [row["assignee"]], "complaint_assigned",
        {"number": row["number"], "summary": row["description"], "deadline": row["deadline_at"]},
        dedup_key=f"complaint:{row['id']}:{key}", settings=settings, arq=arq, subject=("complaint", str(row["id"])),
    )


async def _tell_station_unassigned(settings: Settings, arq: ArqRedis | None, row: dict[str, Any]) -> None:
    """No inspector on duty took the case: the station's admins (city admins if none) hear of it at once."""
    people = await dispatch.station_chiefs(row["district"])
    if not people:
        return
    await notifications.notify(
        people, "sla_reminder",
        {"number": row["number"], "reminder": UNASSIGNED_NOTE, "deadline": row["deadline_at"]},
        dedup_key=f"complaint:{row['id']}:unassigned", settings=settings, arq=arq,
        subject=("complaint", str(row["id"])), urgency=notifications.Urgency.HIGH,
    )


# --- intake -------------------------------------------------------------------------------------


async def similar(
    redis: Redis, actor: Principal, category: str, lng: float, lat: float, coord_type: Any, project_id: UUID | None
) -> list[SimilarComplaint]:
    """Open reports of the same category in the last 7 days: same project, or within 50 m (public view only)."""
    access_policy.require(actor, "citizen", {})
    await ratelimit.hit(redis, f"complaints:similar:{actor.id}", SIMILAR_PER_HOUR, 3600)
    glng, glat = to_gcj02(lng, lat, coord_type)
    min_lng, min_lat, max_lng, max_lat = bbox(glng, glat, SIMILAR_RADIUS_M)
    since = utcnow() - SIMILAR_WINDOW
    near = (Complaint.lng >= min_lng) & (Complaint.lng <= max_lng) & (Complaint.lat >= min_lat) & (Complaint.lat <= max_lat)
    where = near if project_id is None else (near | (Complaint.project == project_id))
    rows = await Complaint.select(
        Complaint.id, Complaint.number, Complaint.status, Complaint.description, Complaint.lng, Complaint.lat,
        Complaint.project, Complaint.submitted_at,
    ).where(
        where & (Complaint.category == category) & (Complaint.submitted_at >= since)
        & Complaint.status.is_in([s.value for s in OPEN])
    ).order_by(Complaint.submitted_at, ascending=False).limit(20)
    result = []
    hidden = await content_security.hidden_subjects("complaint_text", [str(r["id"]) for r in rows])
    for r in rows:
        if str(r["id"]) in hidden:
            r["description"] = MESSAGES["CONTENT_UNDER_REVIEW"]  # WeChat's verdict: only the station sees it
        distance = haversine_m(glng, glat, r["lng"], r["lat"])
        same_project = project_id is not None and r["project"] == project_id
        if distance > SIMILAR_RADIUS_M and not same_project:
            continue
        result.append(
            SimilarComplaint(
                id=r["id"], number=r["number"], status=Status(r["status"]), description=mask_phones(r["description"])[:100],
                distance_m=round(distance, 1), same_project=same_project,
                supporters=await Supporter.count().where(Supporter.complaint == r["id"]), submitted_at=r["submitted_at"],
            )
        )
    return result


async def create(
    settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, data: ComplaintCreate,
    source: str = "miniprogram", contact: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A citizen's report: verify photos, route at once, start the SLA clock; pushes follow from the worker.

    The hot path of the mini-program: one transaction of five statements, then two Redis round trips.
    """
    if actor.kind == "user":
        access_policy.require(actor, "file_complaint", {})
        await consent.require(actor, "complaint")  # issue 23: notice and precise-location consent first
        await ratelimit.hit_many(redis, [
            (f"complaint:h:{actor.id}", settings.COMPLAINTS_PER_HOUR, 3600),
            (f"complaint:d:{actor.id}", settings.COMPLAINTS_PER_DAY, 86400),
        ])
    elif data.photo_ids:
        raise BadRequest("VALIDATION_ERROR", detail="partner systems send media_url, not photo ids")
    category = await _category(data.category)
    lng, lat = to_gcj02(data.location.lng, data.location.lat, data.location.coord_type)
    project_district = None
    if data.project_id is not None:
        project = await Project.select(Project.district).where(Project.id == data.project_id).first()
        if project is None:
            raise NotFound("PROJECT_NOT_FOUND")
        project_district = project["district"]
    district, why = await dispatch.district_for(lng, lat, project_district)
    station = await dispatch.station_of(district)
    now = utcnow()
    complaint_id = uuid4()
    sla_seconds = _sla_seconds(settings, category)
    assignee = None
    async with Complaint._meta.db.transaction():
        if district is not None:
            # One dispatch at a time per district (lock and pick in one statement), so that
            # "fewest open cases" stays fair under load.
            assignee = await dispatch.pick_inspector(district, lock=True)
        reason = await dispatch.reason(district, why, assignee)
        photos = list(dict.fromkeys(data.photo_ids)) if actor.kind == "user" else []
        # One statement: the complaint, its photos bound and its first two events; then its four timers.
        rows = await Complaint.raw(
            "WITH c AS (INSERT INTO complaints (id, number, citizen, source, category, description, address, lng, lat,"
            " district, station, project, assignee, status, paused_from, submitted_at, clock_started_at, sla_seconds,"
            " deadline_at, paused_total_s, sla_version, overdue, dispatched_at, resolution_notes, reject_reason,"
            " satisfaction_comment, reopen_count, contact, updated_at)"
            " VALUES ({}, 'ZJ' || to_char({}::timestamptz AT TIME ZONE {}, 'YYMMDD') || '-' ||"
            " lpad(nextval('complaints_seq_seq')::text, 6, '0'), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'dispatched',"
            " '', {}, {}, {}, {}, 0, 1, false, {}, '', '', '', 0, {}::jsonb, {}) RETURNING *),"
            " m AS (UPDATE media SET attached_type = 'complaint', attached_id = {} WHERE id = ANY({}::uuid[])"
            "  AND owner = {} AND status = 'verified' AND purpose = 'complaint' AND attached_id = '' RETURNING id),"
            " e AS (INSERT INTO complaint_events (complaint, kind, from_status, to_status, actor, reason, data, public, at)"
            "  SELECT c.id, k.kind, k.f, k.t, CASE WHEN k.kind = 'submitted' THEN c.citizen END, k.r, k.d::jsonb, true, {}"
            "  FROM c, (VALUES ('submitted', '', 'submitted', '', {}), ('dispatched', 'submitted', 'dispatched', {}, {}))"
            "  AS k(kind, f, t, r, d))"
            " SELECT c.*, (SELECT count(*) FROM m) AS photos_bound FROM c",
            complaint_id, now, settings.TIMEZONE, actor.id if actor.kind == "user" else None, source, category["code"], data.description,
            data.address, lng, lat, district, station, data.project_id, assignee,
            now, now, sla_seconds, deadline(now, sla_seconds, 0), now, json.dumps(contact or {}, ensure_ascii=False), now,
            str(complaint_id), photos, actor.id,
            now, json.dumps({"source": source}), reason,
            json.dumps({"district": district, "assignee": str(assignee) if assignee else None}),
        )
        row = rows[0]
        if row.pop("photos_bound") != len(photos):
            # Say which photo is wrong and why; raising rolls the whole report back.
            await media_service.attach(actor.id, photos, Purpose.COMPLAINT, ("complaint", str(complaint_id)))
        await sla.create_timers(row)  # durable timers; their deferred jobs are armed after the commit
        # The pushes to the assignee and the citizen: a task row committed with the report, run by a worker.
        await outbox.enqueue_task(CREATED_JOB, [str(complaint_id)])
    return row


CREATED_JOB = "complaint_created"


async def announce_created(settings: Settings, arq: ArqRedis | None, complaint_id: UUID) -> None:
    """Tell the assignee and the citizen that the case is routed; with nobody on duty, the station's admins at once."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id)
        if row["assignee"] is not None:
            await _tell_assignee(settings, arq, row, "assigned:1")
        else:
            await _tell_station_unassigned(settings, arq, row)
        await _tell_citizens(settings, arq, row, "已分派至监督站处理", "dispatched")


async def join(settings: Settings, redis: Redis, actor: Principal, complaint_id: UUID) -> dict[str, Any]:
    """Support an existing open report instead of filing a duplicate (citizens; the joiner sees the public view)."""
    access_policy.require(actor, "citizen", {})
    await ratelimit.hit(redis, f"complaints:join:{actor.id}", JOIN_PER_DAY, 86_400)
    row = await _row(complaint_id)
    if Status(row["status"]) not in OPEN:
        raise Conflict("COMPLAINT_STATE", detail={"action": "join", "status": row["status"]})
    if row["citizen"] != actor.id:
        await Supporter.raw(
            "INSERT INTO complaint_supporters (complaint, \"user\", at) VALUES ({}, {}, now())"
            " ON CONFLICT (complaint, \"user\") DO NOTHING",
            complaint_id, actor.id,
        )
        await _event(complaint_id, "joined", actor.id, "", row["status"], row["status"], public=False)
    return row


# --- lifecycle ----------------------------------------------------------------------------------


async def accept(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID) -> dict[str, Any]:
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        changes = {"accepted_at": utcnow()}
        if row["assignee"] is None:
            changes["assignee"] = actor.id
        row = await _transition(row, "accept", actor.id, changes=changes)
        await _tell_citizens(settings, arq, row, "监督站已受理", f"accepted:{row['reopen_count']}")
    return row


async def start(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID) -> dict[str, Any]:
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        row = await _transition(row, "start", actor.id)
        await _tell_citizens(settings, arq, row, "正在现场核查处理", f"started:{row['reopen_count']}")
    return row


async def request_info(
    settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, reason: str
) -> dict[str, Any]:
    """Ask the citizen for information: the SLA clock pauses until they answer."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        if row["citizen"] is None:
            raise Conflict("NO_CITIZEN_TO_ASK")
        old_version = row["sla_version"]
        row = await _transition(
            row, "request_info", actor.id, reason,
            changes={"paused_at": utcnow(), "paused_from": row["status"]},
        )
        await sla.cancel_timers(complaint_id)  # paused: the live stages wait for the resume
        await _tell_citizens(settings, arq, row, f"请补充材料：{reason}", f"info:{old_version}")
    return row


async def provide_info(
    settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, message: str
) -> dict[str, Any]:
    """The citizen answers: the clock resumes where it stopped (deadline moved by the pause)."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "own_complaint", row)
        row = await _resume(row, actor.id, message)
        await _tell_assignee(settings, arq, row, f"info:{row['sla_version']}")
    return row


async def _resume(row: dict[str, Any], actor: UUID | None, reason: str) -> dict[str, Any]:
    now = utcnow()
    paused = (now - row["paused_at"]).total_seconds() if row["paused_at"] else 0.0
    total = row["paused_total_s"] + paused
    row = await _transition(
        row, "resume", actor, reason,
        changes={
            "paused_at": None, "paused_from": "", "paused_total_s": total, "sla_version": row["sla_version"] + 1,
            "deadline_at": deadline(row["clock_started_at"], row["sla_seconds"], total),
        },
        data={"paused_s": round(paused, 1)},
    )
    await sla.create_timers(row)  # moved by the pause; stages already fired in this clock stay fired
    return row


async def resume(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, reason: str) -> dict[str, Any]:
    """Staff resume the clock without an answer (e.g. the citizen called the station)."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        row = await _resume(row, actor.id, reason)
    return row


async def resolve(
    settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, notes: str, photo_ids: list[UUID]
) -> dict[str, Any]:
    """Handled: notes and after-photos; the SLA stops; the citizen has a window to confirm or reopen."""
    now = utcnow()
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        await media_service.attach(actor.id, photo_ids, Purpose.COMPLAINT_RESULT, ("complaint_result", str(complaint_id)))
        row = await _transition(row, "resolve", actor.id, notes[:500], changes={"resolved_at": now, "resolution_notes": notes})
        await sla.cancel_timers(complaint_id)
        await sla.create_autoclose(row, now + timedelta(seconds=settings.COMPLAINT_CONFIRM_WINDOW_S))
        await credit_service.complaint_substantiated(row, actor.id, settings=settings, arq=arq)
        await _tell_citizens(settings, arq, row, "已处理，请确认或评价", f"resolved:{row['reopen_count']}")
    return row


async def _cancel_all(row: dict[str, Any]) -> int:
    """In the closing transaction: the case's live timers are cancelled."""
    return await sla.cancel_timers(row["id"])


async def reject(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, reason: str) -> dict[str, Any]:
    """Not a construction-quality matter (or not actionable): the citizen is told why."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        row = await _transition(row, "reject", actor.id, reason, changes={"reject_reason": reason, "closed_at": utcnow()})
        await _cancel_all(row)
        await _tell_citizens(settings, arq, row, f"不予受理：{reason}", "rejected")
    return row


async def merge(
    settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, into_id: UUID, reason: str
) -> dict[str, Any]:
    """A duplicate: its citizen becomes a supporter of the surviving report."""
    if complaint_id == into_id:
        raise BadRequest("MERGE_SELF")
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        target = await _row(into_id)
        access_policy.require(actor, "act_on_complaint", row)
        access_policy.require(actor, "staff_read_complaint", target)
        if Status(target["status"]) not in OPEN:
            raise Conflict("COMPLAINT_STATE", detail={"action": "merge_into", "status": target["status"]})
        row = await _transition(row, "merge", actor.id, reason, changes={"merged_into": into_id, "closed_at": utcnow()},
                                data={"into": str(into_id), "into_number": target["number"]})
        for user_id in ([row["citizen"]] if row["citizen"] else []) + [
            r["user"] for r in await Supporter.select(Supporter.user).where(Supporter.complaint == complaint_id)
        ]:
            if user_id != target["citizen"]:
                await Supporter.raw(
                    "INSERT INTO complaint_supporters (complaint, \"user\", at) VALUES ({}, {}, now())"
                    " ON CONFLICT (complaint, \"user\") DO NOTHING",
                    into_id, user_id,
                )
        await _cancel_all(row)
        await _tell_citizens(settings, arq, row, f"已与投诉 {target['number']} 合并处理", "merged")
    return row


async def transfer(
    settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, data: TransferIn
) -> dict[str, Any]:
    """Hand over to another inspector or district ("not ours" is a bounce); the SLA clock runs on."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "act_on_complaint", row)
        district = row["district"] if data.to_district_adcode is None else data.to_district_adcode
        if data.to_district_adcode is not None:
            if not await District.exists().where(District.adcode == district):
                raise NotFound("DISTRICT_NOT_FOUND")
        if data.to_inspector_id is not None:
            target = await User.select(User.id, User.role, User.district, User.is_active).where(
                User.id == data.to_inspector_id
            ).first()
            if target is None or target["role"] != Role.INSPECTOR.value or not target["is_active"]:
                raise BadRequest("NOT_AN_INSPECTOR")
            if target["district"] != district:
                raise BadRequest("INSPECTOR_OTHER_DISTRICT")
            assignee = target["id"]
        else:
            exclude = row["assignee"] if district == row["district"] else None
            assignee = await dispatch.pick_inspector(district, exclude=exclude) if district is not None else None
        station = await Station.select(Station.id).where(Station.district == district).first() if district else None
        kind = "bounced" if data.not_ours else "transferred"
        row = await _transition(
            row, "transfer", actor.id, data.reason, kind=kind,
            changes={"district": district, "station": station["id"] if station else None, "assignee": assignee,
                     "dispatched_at": utcnow(), "accepted_at": None},
            data={"from_district": row["district"], "to_district": district,
                  "from_assignee": str(row["assignee"]) if row["assignee"] else None,
                  "to_assignee": str(assignee) if assignee else None},
        )
        await _tell_assignee(settings, arq, row, f"assigned:{kind}:{uuid4().hex[:8]}")
    return row


async def confirm(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID) -> dict[str, Any]:
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "own_complaint", row)
        now = utcnow()
        row = await _transition(row, "confirm", actor.id, changes={"closed_at": now, "citizen_feedback_at": now})
        await _cancel_all(row)
    return row


async def reopen(settings: Settings, arq: ArqRedis | None, actor: Principal, complaint_id: UUID, reason: str) -> dict[str, Any]:
    """Not satisfied, within the window: back to the inspector with a fresh SLA clock."""
    now = utcnow()
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "own_complaint", row)
        if row["resolved_at"] and now - row["resolved_at"] > timedelta(seconds=settings.COMPLAINT_CONFIRM_WINDOW_S):
            raise Conflict("REOPEN_WINDOW_PASSED")
        await sla.cancel_timers(complaint_id)  # the auto-close
        row = await _transition(
            row, "reopen", actor.id, reason,
            changes={"reopen_count": row["reopen_count"] + 1, "sla_version": row["sla_version"] + 1,
                     "clock_started_at": now, "paused_total_s": 0.0, "overdue": False,
                     "deadline_at": deadline(now, row["sla_seconds"], 0), "resolved_at": None,
                     "citizen_feedback_at": now},
        )
        await sla.create_timers(row)  # a new clock: new keys, all four stages
        await _tell_assignee(settings, arq, row, f"reopened:{row['reopen_count']}")
    return row


async def rate(actor: Principal, complaint_id: UUID, score: int, comment: str) -> dict[str, Any]:
    """Satisfaction 1–5 after handling; a rating counts as the citizen's callback verification."""
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        access_policy.require(actor, "own_complaint", row)
        if row["status"] not in (Status.RESOLVED.value, Status.CLOSED.value):
            raise Conflict("COMPLAINT_STATE", detail={"action": "rate", "status": row["status"]})
        if row["status"] == Status.CLOSED.value and row["satisfaction"] is not None:
            # Final once closed: the month's satisfaction figures must not move afterwards.
            raise Conflict("RATING_FINAL")
        rows = await Complaint.update(
            {Complaint.satisfaction: score, Complaint.satisfaction_comment: comment,
             Complaint.citizen_feedback_at: utcnow(), Complaint.updated_at: utcnow()}
        ).where(Complaint.id == complaint_id).returning(*Complaint.all_columns())
        await _event(complaint_id, "rated", actor.id, comment, row["status"], row["status"], {"score": score})
    return rows[0]


async def comment(actor: Principal, complaint_id: UUID, text: str) -> None:
    row = await _row(complaint_id)
    access_policy.require(actor, "staff_read_complaint", row)
    await _event(complaint_id, "comment", actor.id, text, row["status"], row["status"], public=False)


# --- timers -------------------------------------------------------------------------------------


async def fire_timer(settings: Settings, arq: ArqRedis | None, complaint_id: UUID, stage: str, clock: int) -> str:
    """One SLA stage or the auto-close, run by the timer service inside the transaction that marks it fired."""
    now = utcnow()
    async with Complaint._meta.db.transaction():
        row = await _row(complaint_id, lock=True)
        version = row["sla_version"]
        if clock != row["reopen_count"]:
            return "stale"  # a stage of an earlier clock (its timers are cancelled at the reopen)
        if stage == "autoclose":
            outcome = "closed" if row["status"] == Status.RESOLVED.value else "skipped"
            if outcome == "closed":
                await _transition(row, "auto_close", None, "市民 7 日内未确认，自动办结", changes={"closed_at": now})
        elif Status(row["status"]) not in OPEN or row["status"] == Status.WAITING_INFO.value:
            outcome = "skipped"
        else:
            outcome = stage
            if stage == "breach":  # breached_at is the first breach of any clock: a reopen does not hide it
                await Complaint.raw(
                    "UPDATE complaints SET overdue = true, overdue_at = {}, breached_at = COALESCE(breached_at, {})"
                    " WHERE id = {}", now, now, complaint_id,
                )
                await _event(complaint_id, "sla_breached", None, "已超过处理时限", row["status"], row["status"], public=False)
            else:
                await _event(complaint_id, f"sla_{stage}", None, "", row["status"], row["status"], public=False)
        # In the transaction that marks the timer fired: the reminder exists if and only if the firing commits.
        if outcome in ("remind_1", "remind_2", "warning", "breach"):
            await _sla_notify(settings, arq, row, stage, version)
        if outcome == "breach":
            await _tell_citizens(settings, arq, row, CITIZEN_BREACH_NOTE, f"breach:{version}")
        elif outcome == "closed":
            await _tell_citizens(settings, arq, {**row, "status": Status.CLOSED.value}, CITIZEN_AUTOCLOSE_NOTE, "autoclosed")
    return outcome


_SLA_TEXT = {"remind_1": "已过时限三分之一", "remind_2": "已过时限三分之二", "warning": "即将超时", "breach": "已超时，已上报"}


async def _sla_notify(settings: Settings, arq: ArqRedis | None, row: dict[str, Any], stage: str, version: int) -> None:
    people = [row["assignee"]] if row["assignee"] else []
    if stage in ("warning", "breach") or not people:
        people += await dispatch.station_chiefs(row["district"])
    await notifications.notify(
        list(dict.fromkeys(people)), "sla_reminder",
        {"number": row["number"], "reminder": _SLA_TEXT[stage], "deadline": row["deadline_at"]},
        dedup_key=f"sla:{row['id']}:{stage}:{version}", settings=settings, arq=arq,
        subject=("complaint", str(row["id"])), urgency=notifications.Urgency.HIGH if stage == "breach" else notifications.Urgency.NORMAL,
    )


# --- views --------------------------------------------------------------------------------------


async def _photos(s3: S3Client, subject: tuple[str, str], hide_checked: bool = False) -> list[PhotoOut]:
    """The subject's photos; ``hide_checked`` leaves out those WeChat's content check hid (station only)."""
    result = []
    media_ids = await media_service.attached_to(subject)
    hidden = await content_security.hidden_subjects("complaint_photo", [str(m) for m in media_ids]) if hide_checked else set()
    for media_id in media_ids:
        if str(media_id) in hidden:
            continue
        urls = await media_service.signed_urls(s3, media_id)
        result.append(PhotoOut(id=media_id, url=urls.url, thumbnail_url=urls.thumbnail_url))
    return result


async def _timeline(complaint_id: UUID, public_only: bool) -> list[TimelineEntry]:
    query = Event.select(
        Event.kind, Event.from_status, Event.to_status, Event.reason, Event.at, Event.actor.display_name.as_alias("actor_name"),
        Event.actor.role.as_alias("actor_role"),
    ).where(Event.complaint == complaint_id)
    if public_only:
        query = query.where(Event.public.eq(True))
    rows = await query.order_by(Event.id)
    return [
        TimelineEntry(
            kind=r["kind"], from_status=r["from_status"], to_status=r["to_status"], reason=r["reason"], at=r["at"],
            # A citizen sees staff names, never another citizen's.
            actor_name=r["actor_name"] if not public_only or r["actor_role"] in ("inspector", "regulator_admin") else None,
        )
        for r in rows
    ]


async def _names(row: dict[str, Any]) -> dict[str, Any]:
    category = await Category.select(Category.name).where(Category.code == row["category"]).first()
    station = await Station.select(Station.name).where(Station.id == row["station"]).first() if row["station"] else None
    project = await Project.select(Project.name).where(Project.id == row["project"]).first() if row["project"] else None
    return {
        "category_name": category["name"] if category else row["category"],
        "station_name": station["name"] if station else None,
        "project_name": project["name"] if project else None,
    }


async def citizen_view(settings: Settings, s3: S3Client, actor: Principal, complaint_id: UUID) -> ComplaintCitizenView:
    row = await _row(complaint_id)
    access_policy.require(actor, "view_complaint_as_citizen", {
        "citizen": row["citizen"],
        "joined": row["citizen"] != actor.id and await _is_supporter(complaint_id, actor.id)})
    names = await _names(row)
    owner = row["citizen"] == actor.id
    status = Status(row["status"])
    if await content_security.hidden_subjects("complaint_text", [str(row["id"])]):
        row["description"] = MESSAGES["CONTENT_UNDER_REVIEW"]  # only the station sees it until reviewed
    if not owner:  # a joiner: the public view (no address, coarse point, phones masked, no photos)
        public = ComplaintCitizenView(
            id=row["id"], number=row["number"], category=row["category"], category_name=names["category_name"],
            description=mask_phones(row["description"]), address="", location=public_point(row["lng"], row["lat"]),
            status=status, district_adcode=row["district"], station_name=names["station_name"],
            project_name=names["project_name"], submitted_at=row["submitted_at"], deadline_at=row["deadline_at"],
            resolved_at=row["resolved_at"], closed_at=row["closed_at"], resolution_notes="", reject_reason="",
            satisfaction=None, photos=[], result_photos=[], timeline=await _timeline(row["id"], public_only=True),
            can_rate=False, can_reopen=False, can_confirm=False,
        )
        return public
    in_window = row["resolved_at"] is not None and utcnow() - row["resolved_at"] <= timedelta(seconds=settings.COMPLAINT_CONFIRM_WINDOW_S)
    return ComplaintCitizenView(
        id=row["id"], number=row["number"], category=row["category"], category_name=names["category_name"],
        description=row["description"], address=row["address"], location=(row["lng"], row["lat"]), status=status,
        district_adcode=row["district"], station_name=names["station_name"], project_name=names["project_name"],
        submitted_at=row["submitted_at"], deadline_at=row["deadline_at"], resolved_at=row["resolved_at"],
        closed_at=row["closed_at"], resolution_notes=row["resolution_notes"], reject_reason=row["reject_reason"],
        satisfaction=row["satisfaction"] if owner else None,
        photos=await _photos(s3, ("complaint", str(row["id"])), hide_checked=True),
        result_photos=await _photos(s3, ("complaint_result", str(row["id"]))),
        timeline=await _timeline(row["id"], public_only=True),
        can_rate=owner and status in (Status.RESOLVED, Status.CLOSED),
        can_reopen=owner and status == Status.RESOLVED and in_window,
        can_confirm=owner and status == Status.RESOLVED,
    )


async def staff_view(s3: S3Client, actor: Principal, complaint_id: UUID) -> ComplaintStaffView:
    row = await _row(complaint_id)
    access_policy.require(actor, "staff_read_complaint", row)
    names = await _names(row)
    assignee = await User.select(User.display_name).where(User.id == row["assignee"]).first() if row["assignee"] else None
    citizen = await User.select(User.display_name).where(User.id == row["citizen"]).first() if row["citizen"] else None
    return ComplaintStaffView(
        id=row["id"], number=row["number"], category=row["category"], category_name=names["category_name"],
        description=row["description"], address=row["address"], location=(row["lng"], row["lat"]),
        status=Status(row["status"]), district_adcode=row["district"], station_id=row["station"],
        project_id=row["project"], project_name=names["project_name"], assignee_id=row["assignee"],
        assignee_name=assignee["display_name"] if assignee else None,
        citizen_name=citizen["display_name"] if citizen else None, source=row["source"],
        supporters=await Supporter.count().where(Supporter.complaint == row["id"]),
        submitted_at=row["submitted_at"], deadline_at=row["deadline_at"], overdue=_overdue(row),
        paused=row["status"] == Status.WAITING_INFO.value, resolved_at=row["resolved_at"], closed_at=row["closed_at"],
        resolution_notes=row["resolution_notes"], reject_reason=row["reject_reason"], satisfaction=row["satisfaction"],
        satisfaction_comment=row["satisfaction_comment"], merged_into=row["merged_into"],
        photos=await _photos(s3, ("complaint", str(row["id"]))),
        result_photos=await _photos(s3, ("complaint_result", str(row["id"]))),
        timeline=await _timeline(row["id"], public_only=False),
    )


def brief(row: dict[str, Any]) -> ComplaintBrief:
    return ComplaintBrief(
        id=row["id"], number=row["number"], category=row["category"], status=Status(row["status"]),
        district_adcode=row["district"], assignee_id=row["assignee"], submitted_at=row["submitted_at"],
        deadline_at=row["deadline_at"], overdue=_overdue(row), description=row["description"][:100],
    )


def _overdue(row: dict[str, Any]) -> bool:
    return is_overdue(row["status"], row["deadline_at"], row["paused_at"], utcnow())


async def mine(actor: Principal, limit: int, offset: int) -> tuple[int, list[ComplaintBrief]]:
    access_policy.require(actor, "person", {})
    where = (Complaint.citizen == actor.id) | Complaint.id.is_in(
        Supporter.select(Supporter.complaint).where(Supporter.user == actor.id)
    )
    rows = await Complaint.select().where(where).order_by(Complaint.submitted_at, ascending=False).limit(limit).offset(offset)
    return await Complaint.count().where(where), [brief(r) for r in rows]


async def queue(
    actor: Principal, *, status: Status | None, district: int | None, category: str | None, overdue: bool | None,
    mine_only: bool, city_queue: bool, limit: int, offset: int,
) -> tuple[int, list[ComplaintBrief]]:
    """The station queue: the actor's district (a city-wide admin: everywhere, or the city-level queue)."""
    clauses = []
    if city_queue:
        access_policy.require(actor, "staff", {})
        access_policy.require(actor, "read_city_queue", {})
        clauses.append(Complaint.district.is_null())
    elif (in_district := access_scope.staff_district(actor, district)) is not None:
        clauses.append(Complaint.district == in_district)
    if status is not None:
        clauses.append(Complaint.status == status.value)
    else:
        clauses.append(Complaint.status.not_in([s.value for s in FINAL]))
    if category:
        clauses.append(Complaint.category == category)
    if overdue is not None:  # the one definition (rules.is_overdue), not the breach flag
        clauses.append(WhereRaw(overdue_sql(overdue), utcnow()))
    if mine_only:
        clauses.append(Complaint.assignee == actor.id)
    query = Complaint.select()
    count = Complaint.count()
    for clause in clauses:
        query = query.where(clause)
        count = count.where(clause)
    rows = await query.order_by(Complaint.deadline_at).limit(limit).offset(offset)
    return await count, [brief(r) for r in rows]


async def for_project(actor: Principal, project_id: UUID, limit: int, offset: int) -> tuple[int, list[ComplaintBrief]]:
    """What a project's lead or supervising enterprise sees: the cases about their site, no citizen."""
    project = await projects_service.get_project_row(project_id)
    await access_policy.check(actor, "project_complaints", project)
    where = (Complaint.project == project_id) & (Complaint.status != Status.MERGED.value)
    rows = await Complaint.select().where(where).order_by(Complaint.submitted_at, ascending=False).limit(limit).offset(offset)
    return await Complaint.count().where(where), [brief(r) for r in rows]


async def set_duty(actor: Principal, user_id: UUID | None, on_duty: bool) -> dict[str, Any]:
    """An inspector sets their own duty; a district admin sets their inspectors'."""
    target_id = user_id or actor.id
    target = await User.select(User.id, User.role, User.district).where(User.id == target_id).first()
    if target is None or target["role"] != Role.INSPECTOR.value:
        raise BadRequest("NOT_AN_INSPECTOR")
    if target_id != actor.id:
        access_policy.require(actor, "admin_of_district", target)
    await dispatch.set_duty(target_id, on_duty)
    return {"user_id": str(target_id), "on_duty": on_duty, "open_cases": await dispatch.open_cases(target_id)}
