"""Dangerous-works monitoring (危大工程监测): the registry, plans, points, sensors, series, alarm handling — no HTTP.

Who may do what: staff of the project's district and the project's leads manage the registry; the
project's supervisor (or staff) approves the special plan; anyone who may read the project (and the
work's safety director) reads series and alarms; leads, supervisors, the safety director and staff
acknowledge and clear. Every alarm action is a transition (alarms.TRANSITIONS) with an event row.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.access.scope import answerable_projects_sql, project_scope
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.monitoring import alarms as flow
from backend.monitoring import provisioning
from backend.monitoring.classify import (
    FORCE_METRICS,
    METRICS,
    Kind,
    NoAlarmValue,
    classify,
    resolve_thresholds,
)
from backend.monitoring.rules import LEVEL_ZH, Level
from backend.monitoring.schemas import (
    AlarmDetail,
    AlarmEventOut,
    AlarmOut,
    CommentIn,
    DeadLetterOut,
    PlanApprove,
    PlanSubmit,
    PointCreate,
    PointOut,
    SensorCreate,
    SensorOut,
    Series,
    SeriesPoint,
    WorkCreate,
    WorkOut,
    WorkUpdate,
)
from backend.monitoring.tables import (
    Alarm,
    AlarmEvent,
    DangerousWork,
    DeadLetter,
    MonitoringPoint,
    RuleStateRow,
    Sensor,
)
from backend.notifications import escalation
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings

TOPIC = "zhijian/v1/{project_id}/{sensor_id}/telemetry"


def thresholds_check(values: dict[str, Any]) -> None:
    """Raise NoAlarmValue unless these fields give a cumulative, rate or design-share limit."""
    by_design = values.get("design_value") is not None and values.get("design_share") is not None
    if values.get("cumulative_abs") is None and values.get("rate_per_day") is None and not by_design:
        raise NoAlarmValue("")


def topic_for(project_id: UUID, sensor_id: UUID) -> str:
    return TOPIC.format(project_id=project_id, sensor_id=sensor_id)


# --- access -----------------------------------------------------------------------------------------


async def _project(project_id: UUID) -> dict[str, Any]:
    try:
        return await projects_service.get_project_row(project_id)
    except NotFound:
        raise NotFound("PROJECT_NOT_FOUND") from None


# --- dangerous works --------------------------------------------------------------------------------


def _work_out(row: dict[str, Any]) -> WorkOut:
    def j(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v

    return WorkOut(
        id=row["id"], project_id=row["project"], district_adcode=row["district"], name=row["name"], kind=Kind(row["kind"]),
        parameters=j(row["parameters"]), classification=row["classification"],
        classification_reasons=j(row["classification_reasons"]),
        needs_expert_review=row["classification"] == "beyond_scale", safety_director_id=row["safety_director"],
        plan_status=row["plan_status"], plan_no=row["plan_no"], plan_alarm_values=j(row["plan_alarm_values"]),
        plan_expert_review=row["plan_expert_review"], plan_approved_at=row["plan_approved_at"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def _work(work_id: UUID) -> dict[str, Any]:
    row = await DangerousWork.select().where(DangerousWork.id == work_id).output(load_json=True).first()
    if row is None:
        raise NotFound("WORK_NOT_FOUND")
    return row


def _parameters(kind: Kind, params: Any) -> dict[str, Any]:
    import msgspec

    values = {k: v for k, v in msgspec.structs.asdict(params).items() if v not in (None, False)}
    allowed = {"excavation_depth_m", "complex_conditions"} if kind == Kind.FOUNDATION_PIT else (
        {"height_m", "span_m", "load_kn_m2", "line_load_kn_m"} if kind == Kind.FORMWORK_SUPPORT else (
            {"height_m"} if kind == Kind.SCAFFOLDING else set()))
    extra = sorted(set(values) - allowed)
    if extra:
        raise BadRequest("WORK_PARAMETERS", detail={"not_for_kind": extra, "kind": kind.value})
    if kind == Kind.FOUNDATION_PIT and "excavation_depth_m" not in values:
        raise BadRequest("WORK_PARAMETERS", detail={"missing": ["excavation_depth_m"]})
    return values


async def _check_safety_director(project_id: UUID, user_id: UUID | None) -> None:
    """The safety director is a user of the project's general contractor."""
    if user_id is None:
        return
    user = await User.select(User.enterprise).where(User.id == user_id).first()
    if user is None or user["enterprise"] is None or not await ProjectParty.exists().where(
        (ProjectParty.project == project_id) & (ProjectParty.enterprise == user["enterprise"])
        & (ProjectParty.role == "general_contractor")
    ):
        raise BadRequest("NOT_CONTRACTOR_STAFF")


async def create_work(actor: Principal, data: WorkCreate) -> WorkOut:
    """Register a dangerous work; its class (危大 / 超过一定规模) follows from the parameters."""
    project = await _project(data.project_id)
    await access_policy.check(actor, "manage_monitoring", project)
    params = _parameters(data.kind, data.parameters)
    await _check_safety_director(data.project_id, data.safety_director_id)
    verdict = classify(data.kind, params)
    work = DangerousWork(
        project=data.project_id, district=project["district"], name=data.name, kind=data.kind.value,
        parameters=params, classification=verdict.classification.value,
        classification_reasons=list(verdict.reasons), safety_director=data.safety_director_id, created_by=actor.id,
    )
    await work.save()
    return _work_out(await _work(work.id))


async def get_work(actor: Principal, work_id: UUID) -> WorkOut:
    row = await _work(work_id)
    await access_policy.check(actor, "read_monitoring", await _project(row["project"]))
    return _work_out(row)


async def list_works(actor: Principal, project_id: UUID) -> list[WorkOut]:
    await access_policy.check(actor, "read_monitoring", await _project(project_id))
    rows = await DangerousWork.select().where(DangerousWork.project == project_id).order_by(
        DangerousWork.created_at).output(load_json=True)
    return [_work_out(r) for r in rows]


async def update_work(actor: Principal, work_id: UUID, data: WorkUpdate) -> WorkOut:
    """Rename, change parameters (reclassified) or the safety director."""
    row = await _work(work_id)
    await access_policy.check(actor, "manage_monitoring", await _project(row["project"]))
    changes: dict[Any, Any] = {DangerousWork.updated_at: utcnow()}
    if data.name is not None:
        changes[DangerousWork.name] = data.name
    if data.parameters is not None:
        params = _parameters(Kind(row["kind"]), data.parameters)
        verdict = classify(Kind(row["kind"]), params)
        changes.update({DangerousWork.parameters: params, DangerousWork.classification: verdict.classification.value,
                        DangerousWork.classification_reasons: list(verdict.reasons)})
    if data.safety_director_id is not None:
        await _check_safety_director(row["project"], data.safety_director_id)
        changes[DangerousWork.safety_director] = data.safety_director_id
    await DangerousWork.update(changes).where(DangerousWork.id == work_id)
    return _work_out(await _work(work_id))


async def delete_work(actor: Principal, work_id: UUID) -> None:
    """Staff only, and only while it has never alarmed (alarms are the record)."""
    row = await _work(work_id)
    access_policy.require(actor, "station", row)
    if await Alarm.exists().where(Alarm.point.work == work_id):
        raise Conflict("WORK_HAS_ALARMS")
    await DangerousWork.delete().where(DangerousWork.id == work_id)


async def submit_plan(actor: Principal, work_id: UUID, data: PlanSubmit) -> WorkOut:
    """The special plan (专项方案) and the designer's alarm values; a new submission needs approval again."""
    import msgspec

    row = await _work(work_id)
    await access_policy.check(actor, "manage_monitoring", await _project(row["project"]))
    unknown = sorted(set(data.alarm_values) - set(METRICS))
    if unknown:
        raise BadRequest("METRIC_UNKNOWN", detail={"metrics": unknown})
    values = {m: {k: v for k, v in msgspec.structs.asdict(a).items() if v is not None} for m, a in data.alarm_values.items()}
    await DangerousWork.update({
        DangerousWork.plan_no: data.plan_no, DangerousWork.plan_alarm_values: values,
        DangerousWork.plan_status: "submitted", DangerousWork.plan_submitted_at: utcnow(),
        DangerousWork.plan_approved_at: None, DangerousWork.plan_approved_by: None, DangerousWork.updated_at: utcnow(),
    }).where(DangerousWork.id == work_id)
    return _work_out(await _work(work_id))


async def approve_plan(actor: Principal, work_id: UUID, data: PlanApprove) -> WorkOut:
    """The chief supervising engineer (a supervisor of the project) or staff approves; 超规模 needs expert review."""
    row = await _work(work_id)
    project = await _project(row["project"])
    await access_policy.check(actor, "approve_plan", project)
    if row["plan_status"] != "submitted":
        raise Conflict("PLAN_STATE", detail={"plan_status": row["plan_status"]})
    if row["classification"] == "beyond_scale" and not data.expert_review.strip():
        raise BadRequest("EXPERT_REVIEW_REQUIRED")
    await DangerousWork.update({
        DangerousWork.plan_status: "approved", DangerousWork.plan_approved_at: utcnow(),
        DangerousWork.plan_approved_by: actor.id, DangerousWork.plan_expert_review: data.expert_review.strip(),
        DangerousWork.updated_at: utcnow(),
    }).where(DangerousWork.id == work_id)
    return _work_out(await _work(work_id))


# --- points and sensors -----------------------------------------------------------------------------


def _point_out(r: dict[str, Any]) -> PointOut:
    return PointOut(id=r["id"], work_id=r["work"], code=r["code"], name=r["name"], created_at=r["created_at"])


async def create_point(actor: Principal, work_id: UUID, data: PointCreate) -> PointOut:
    row = await _work(work_id)
    await access_policy.check(actor, "manage_monitoring", await _project(row["project"]))
    if await MonitoringPoint.exists().where((MonitoringPoint.work == work_id) & (MonitoringPoint.code == data.code)):
        raise Conflict("POINT_DUPLICATE")
    point = MonitoringPoint(work=work_id, code=data.code, name=data.name)
    await point.save()
    return _point_out(await MonitoringPoint.select().where(MonitoringPoint.id == point.id).first())


async def list_points(actor: Principal, work_id: UUID) -> list[PointOut]:
    row = await _work(work_id)
    await access_policy.check(actor, "read_monitoring", await _project(row["project"]))
    rows = await MonitoringPoint.select().where(MonitoringPoint.work == work_id).order_by(MonitoringPoint.code)
    return [_point_out(r) for r in rows]


async def _point(point_id: UUID) -> dict[str, Any]:
    row = await MonitoringPoint.select(*MonitoringPoint.all_columns(), MonitoringPoint.work.project.as_alias("project"),
                                       MonitoringPoint.work.plan_status.as_alias("plan_status"),
                                       MonitoringPoint.work.plan_alarm_values.as_alias("plan_alarm_values"),
                                       MonitoringPoint.work.parameters.as_alias("parameters"),
                                       ).where(MonitoringPoint.id == point_id).output(load_json=True).first()
    if row is None:
        raise NotFound("POINT_NOT_FOUND")
    return row


def _sensor_out(r: dict[str, Any]) -> SensorOut:
    return SensorOut(
        id=r["id"], point_id=r["point"], project_id=r["project"], metric=r["metric"], unit=r["unit"],
        thresholds=r["thresholds"], threshold_sources=r["threshold_sources"], interval_s=r["interval_s"],
        silent_after_missed=r["silent_after_missed"], topic=topic_for(r["project"], r["id"]), created_at=r["created_at"],
        status=r.get("status", "active"),
    )


async def create_sensor(actor: Principal, point_id: UUID, data: SensorCreate, settings: Settings | None = None) -> SensorOut:
    """A sensor for one metric; alarm values from the approved plan, gaps filled by marked defaults; with live
    provisioning on, its broker login is created at once and its password returned in this answer only."""
    point = await _point(point_id)
    await projects_service.require_site_activity(point["project"])
    await access_policy.check(actor, "manage_monitoring", await _project(point["project"]))
    if data.metric not in METRICS:
        raise BadRequest("METRIC_UNKNOWN", detail={"metric": data.metric, "known": sorted(METRICS)})
    if point["plan_status"] != "approved":
        raise Conflict("PLAN_NOT_APPROVED")
    depth = (point["parameters"] or {}).get("excavation_depth_m")
    try:
        thresholds, sources = resolve_thresholds(data.metric, point["plan_alarm_values"] or {}, depth, data.interval_s,
                                                 data.silent_after_missed)
    except NoAlarmValue:
        raise BadRequest("NO_ALARM_VALUE", detail={"metric": data.metric}) from None
    if await Sensor.exists().where((Sensor.point == point_id) & (Sensor.metric == data.metric)):
        raise Conflict("SENSOR_DUPLICATE")
    async with Sensor._meta.db.transaction():
        sensor = Sensor(point=point_id, project=point["project"], metric=data.metric, unit=METRICS[data.metric],
                        thresholds=thresholds, threshold_sources=sources, interval_s=data.interval_s,
                        silent_after_missed=data.silent_after_missed)
        await sensor.save()
        # The rule state row exists from the start, so ingest workers can always lock it.
        # Forces: the gauge reads the force itself, judged against its share of the design value: baseline 0.
        initial = json.dumps({"baseline": 0.0} if data.metric in FORCE_METRICS else {})
        await RuleStateRow.raw("INSERT INTO monitoring_rule_states (sensor, state, silent, updated_at)"
                               " VALUES ({}, {}::jsonb, 0, {})", sensor.id, initial, utcnow())
        # in the transaction: a broker that cannot take the login leaves no sensor without one
        password = await provisioning.provision_device(settings, sensor.id, point["project"]) if settings else None
    out = await get_sensor(actor, sensor.id)
    return msgspec.structs.replace(out, device_password=password)


async def rotate_device_password(actor: Principal, sensor_id: UUID, settings: Settings) -> SensorOut:
    """A new broker password for the sensor (its login re-created if missing), returned once."""
    row = await _sensor(sensor_id)
    await access_policy.check(actor, "manage_monitoring", await _project(row["project"]))
    if row["status"] == "retired":
        raise Conflict("SENSOR_STATE", detail={"status": row["status"]})
    if not provisioning.enabled(settings):
        raise Conflict("PROVISIONING_OFF")
    password = await provisioning.provision_device(settings, sensor_id, row["project"])
    return msgspec.structs.replace(_sensor_out(row), device_password=password)


async def _sensor(sensor_id: UUID) -> dict[str, Any]:
    row = await Sensor.select().where(Sensor.id == sensor_id).output(load_json=True).first()
    if row is None:
        raise NotFound("SENSOR_NOT_FOUND")
    return row


async def get_sensor(actor: Principal, sensor_id: UUID) -> SensorOut:
    row = await _sensor(sensor_id)
    await access_policy.check(actor, "read_monitoring", await _project(row["project"]))
    return _sensor_out(row)


async def list_sensors(actor: Principal, point_id: UUID) -> list[SensorOut]:
    point = await _point(point_id)
    await access_policy.check(actor, "read_monitoring", await _project(point["project"]))
    rows = await Sensor.select().where(Sensor.point == point_id).order_by(Sensor.metric).output(load_json=True)
    return [_sensor_out(r) for r in rows]


async def series(actor: Principal, sensor_id: UUID, start: datetime | None, end: datetime | None,
                 buckets: int) -> Series:
    """A sensor's readings in ``buckets`` time buckets (avg / min / max / n) for a chart."""
    row = await _sensor(sensor_id)
    await access_policy.check(actor, "read_monitoring", await _project(row["project"]))
    end = end or utcnow()
    start = start or end - timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        raise BadRequest("VALIDATION_ERROR", detail="start and end need a time zone and start < end")
    bucket_s = max(1, math.ceil((end - start).total_seconds() / buckets))
    rows = await Sensor.raw(
        "SELECT date_bin(make_interval(secs => {}), ts, {}) AS t, avg(value) AS avg, min(value) AS min,"
        " max(value) AS max, count(*) AS n FROM monitoring_readings WHERE sensor = {} AND ts >= {} AND ts < {}"
        " GROUP BY 1 ORDER BY 1",
        bucket_s, start, sensor_id, start, end,
    )
    return Series(sensor_id=sensor_id, metric=row["metric"], unit=row["unit"], bucket_s=bucket_s,
                  points=[SeriesPoint(t=r["t"], avg=r["avg"], min=r["min"], max=r["max"], n=r["n"]) for r in rows])


# --- alarms -------------------------------------------------------------------------------------------

_ALARM_SELECT = "SELECT a.*, p.code AS point_code FROM monitoring_alarms a JOIN monitoring_points p ON p.id = a.point"


def _alarm_out(r: dict[str, Any]) -> AlarmOut:
    reasons = r["reasons"]
    return AlarmOut(
        id=r["id"], sensor_id=r["sensor"], point_id=r["point"], point_code=r["point_code"], project_id=r["project"],
        district_adcode=r["district"], metric=r["metric"], rule=r["rule"], level=r["level"],
        level_zh=LEVEL_ZH[Level(r["level"])], max_level=r["max_level"], status=r["status"], occurrence=r["occurrence"],
        raised_count=r["raised_count"], value=r["value"], cumulative=r["cumulative"], rate_per_day=r["rate_per_day"],
        reasons=json.loads(reasons) if isinstance(reasons, str) else reasons, reading_ts=r["reading_ts"],
        first_at=r["first_at"], last_at=r["last_at"], acked_at=r["acked_at"], acked_by=r["acked_by"],
        cleared_at=r["cleared_at"],
    )


async def list_alarms(actor: Principal, project_id: UUID | None, district: int | None, open_only: bool,
                      limit: int, offset: int) -> list[AlarmOut]:
    """Open (or all) alarms of a project, or of a district for its staff; highest level first."""
    clauses, args = [], []
    if project_id is not None:
        await access_policy.check(actor, "read_monitoring", await _project(project_id))
        clauses.append("a.project = {}")
        args.append(project_id)
    else:
        where, values = project_scope(actor, district, staff_only=True).sql("a.project", "a.district")
        clauses.extend(where)
        args.extend(values)
    if open_only:
        clauses.append("a.status <> 'cleared'")
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = await Alarm.raw(f"{_ALARM_SELECT}{where} ORDER BY a.level DESC, a.last_at DESC LIMIT {{}} OFFSET {{}}",
                           *args, limit, offset)
    return [_alarm_out(r) for r in rows]


async def my_alarms(actor: Principal, limit: int, offset: int) -> list[AlarmOut]:
    """The open alarms of every project I lead, supervise or direct safety for (staff: my district)."""
    if actor.is_staff:
        return await list_alarms(actor, None, None, True, limit, offset)
    mine, args = answerable_projects_sql(actor, "a.project")
    rows = await Alarm.raw(
        f"{_ALARM_SELECT} WHERE a.status <> 'cleared' AND {mine} ORDER BY a.level DESC, a.last_at DESC LIMIT {{}} OFFSET {{}}",
        *args, limit, offset,
    )
    return [_alarm_out(r) for r in rows]


async def _alarm(alarm_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    rows = await Alarm.raw(f"{_ALARM_SELECT} WHERE a.id = {{}}{' FOR UPDATE OF a' if lock else ''}", alarm_id)
    if not rows:
        raise NotFound("ALARM_NOT_FOUND")
    return rows[0]


async def get_alarm(actor: Principal, alarm_id: UUID) -> AlarmDetail:
    row = await _alarm(alarm_id)
    await access_policy.check(actor, "read_monitoring", await _project(row["project"]))
    events = await AlarmEvent.select().where(AlarmEvent.alarm == alarm_id).order_by(AlarmEvent.at)
    return AlarmDetail(alarm=_alarm_out(row), events=[
        AlarmEventOut(kind=e["kind"], from_level=e["from_level"], to_level=e["to_level"], from_status=e["from_status"],
                      to_status=e["to_status"], actor=e["actor"], note=e["note"], at=e["at"]) for e in events])


async def transition(actor: Principal, alarm_id: UUID, action: str, note: str, *, arq: ArqRedis | None) -> AlarmDetail:
    """Acknowledge or clear (alarms.TRANSITIONS); stops the escalation; a clear also resets the rule level."""
    row = await _alarm(alarm_id)
    project = await _project(row["project"])
    await access_policy.check(actor, "handle_alarm", project)
    if action == "clear":  # the regulated party (lead, the contractor's safety director) cannot clear a structural alarm
        access_policy.require(actor, "clear_alarm", row)
    async with Alarm._meta.db.transaction():
        row = await _alarm(alarm_id, lock=True)
        target = flow.TRANSITIONS.get((row["status"], action))
        if target is None:
            raise Conflict("ALARM_STATE", detail={"status": row["status"], "action": action})
        now = utcnow()
        if action == "acknowledge":
            await Alarm.update({Alarm.status: target, Alarm.acked_at: now, Alarm.acked_by: actor.id}).where(
                Alarm.id == alarm_id)
        else:
            await Alarm.update({Alarm.status: target, Alarm.cleared_at: now, Alarm.cleared_by: actor.id}).where(
                Alarm.id == alarm_id)
            # A cleared alarm is handled: if the structure is still beyond the limit the next reading
            # raises a new occurrence rather than leaving a live condition unseen.
            if row["rule"] == "silent":
                # stays cleared until the sensor reports again (the ingest sets 0) and then goes silent again
                await RuleStateRow.update({RuleStateRow.silent: 2}).where(RuleStateRow.sensor == row["sensor"])
            elif row["rule"] == "clock":
                await RuleStateRow.update({RuleStateRow.clock_fault: 0}).where(RuleStateRow.sensor == row["sensor"])
            else:
                # the level back to normal, and the re-sequencing history (states with the old level) dropped
                await RuleStateRow.raw(
                    "UPDATE monitoring_rule_states SET state = jsonb_set(state, {}::text[], '0'::jsonb) - 'history',"
                    " updated_at = {} WHERE sensor = {} AND state ? 'level'", ["level"], now, row["sensor"])
        await AlarmEvent(alarm=alarm_id, kind="acknowledged" if action == "acknowledge" else "cleared",
                         from_status=row["status"], to_status=target, from_level=row["level"], to_level=row["level"],
                         actor=actor.id, note=note, at=now).save()
        # with the transition, not after it: the chain and the acknowledgement deadline end as it commits
        await escalation.stop_escalations(flow.subject(alarm_id), f"{action} by {actor.id}", arq=arq)
        await flow.stop_ack_deadline(alarm_id)
    return await get_alarm(actor, alarm_id)


async def comment(actor: Principal, alarm_id: UUID, data: CommentIn) -> AlarmDetail:
    row = await _alarm(alarm_id)
    await access_policy.check(actor, "handle_alarm", await _project(row["project"]))
    await AlarmEvent(alarm=alarm_id, kind="comment", actor=actor.id, note=data.note, from_status=row["status"],
                     to_status=row["status"]).save()
    return await get_alarm(actor, alarm_id)


async def dead_letters(actor: Principal, reason: str | None, limit: int, offset: int) -> list[DeadLetterOut]:
    """What the ingest worker refused, newest first: city-wide admins see all, district staff their sensors'."""
    clauses, args = [], []
    scope = project_scope(actor, staff_only=True)
    if not scope.everything:
        where, values = scope.sql("p.id", "p.district")
        clauses.append("d.sensor IN (SELECT s.id FROM monitoring_sensors s JOIN projects p ON p.id = s.project"
                       " WHERE " + " AND ".join(where) + ")")
        args.extend(values)
    if reason:
        clauses.append("d.reason = {}")
        args.append(reason)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = await DeadLetter.raw(f"SELECT d.* FROM monitoring_dead_letters d{where} ORDER BY d.id DESC"
                                " LIMIT {} OFFSET {}", *args, limit, offset)
    return [DeadLetterOut(id=r["id"], topic=r["topic"], sensor_id=r["sensor"], reason=r["reason"], detail=r["detail"],
                          payload=r["payload"], received_at=r["received_at"]) for r in rows]
