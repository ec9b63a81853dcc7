"""Alarm lifecycle (报警): level changes from the rules become alarm rows and events; events become pushes.

The worker calls ``on_level_change`` inside its batch transaction; each writes an event row marked
``notify`` (escalate | inform), and ``tell`` — in the same transaction, before the commit — turns the
batch's events into pushes: notify() / escalation rows, which are outbox rows and timers, so a push
exists if and only if the change that it reports was committed. Nothing is sent after a commit and no
sweep is needed; ``notified_at`` records when the event was told (in the same transaction).
Lifecycle: active_unacknowledged → acknowledged → cleared (TRANSITIONS); a rise in level re-opens
acknowledgement. Pushes go through notifications: escalation for a rise, one message for a fall/clear.
Entering active_unacknowledged schedules the acknowledgement-deadline timer (overdue.py); leaving it
cancels the timer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from backend.accounts.tables import User
from backend.auth.principal import Role
from backend.db import utcnow
from backend.monitoring.rules import LEVEL_ZH, Level, Thresholds
from backend.monitoring.tables import Alarm, AlarmEvent
from backend.notifications import escalation
from backend.notifications import service as notifications
from backend.notifications.escalation import EscalationStep
from backend.notifications.schemas import Urgency
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings, get_settings
from backend.timers import service as timers

log = structlog.get_logger("zhijian.monitoring.alarms")

ACTIVE = "active_unacknowledged"
ACKED = "acknowledged"
CLEARED = "cleared"
OPEN = (ACTIVE, ACKED)
CLOCK = "clock"  # the rule of a device-clock fault (readings stamped in the future refused)
ACK_TIMER = "alarm_ack_overdue"  # timer kind: the acknowledgement deadline of one alarm (key = alarm id)

# (status, action) → next status: the whole state machine.
TRANSITIONS: dict[tuple[str, str], str] = {
    (ACTIVE, "acknowledge"): ACKED,
    (ACTIVE, "clear"): CLEARED,
    (ACKED, "clear"): CLEARED,
    (ACKED, "raise"): ACTIVE,  # a higher level needs a fresh acknowledgement
    (ACTIVE, "raise"): ACTIVE,
}

METRIC_ZH = {
    "wall_top_horizontal": "墙顶水平位移", "wall_top_vertical": "墙顶竖向位移", "deep_horizontal": "深层水平位移",
    "column_vertical": "立柱竖向位移", "ground_settlement": "地表沉降", "groundwater_level": "地下水位",
    "support_axial_force": "支撑轴力", "formwork_horizontal": "支架水平位移", "formwork_settlement": "模板沉降",
    "formwork_tilt": "立杆倾角", "upright_axial_force": "立杆轴力",
}


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What the worker knows about a sensor (cached)."""

    id: UUID
    point_id: UUID
    point_code: str
    project_id: UUID
    project_name: str
    district: int
    work_id: UUID
    metric: str
    thresholds: Thresholds  # the alarm values, parsed once per refresh
    status: str = "active"  # active | paused (readings kept as dead letters, not judged)


def subject(alarm_id: UUID | str) -> tuple[str, str]:
    return ("monitoring_alarm", str(alarm_id))


async def start_ack_deadline(alarm_id: UUID, since: datetime, deadline_s: float | None = None) -> None:
    """The alarm entered active_unacknowledged at ``since``: its deadline timer (overdue.py), in the caller's transaction."""
    deadline_s = get_settings().MONITORING_ACK_DEADLINE_S if deadline_s is None else deadline_s
    await timers.schedule(ACK_TIMER, str(alarm_id), since + timedelta(seconds=deadline_s), {"alarm": str(alarm_id)})


async def stop_ack_deadline(alarm_id: UUID) -> None:
    """The alarm left active_unacknowledged (acknowledged, cleared): no deadline any more."""
    await timers.cancel(ACK_TIMER, str(alarm_id))


async def _event(alarm_id: UUID, kind: str, *, from_level: int | None = None, to_level: int | None = None,
                 from_status: str = "", to_status: str = "", actor: UUID | None = None, note: str = "",
                 notify: str = "", at: datetime | None = None) -> UUID:
    event_id = uuid4()
    await AlarmEvent.raw(
        "INSERT INTO monitoring_alarm_events (id, alarm, kind, from_level, to_level, from_status, to_status, actor,"
        " note, notify, at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        event_id, alarm_id, kind, from_level, to_level, from_status, to_status, actor, note, notify, at or utcnow(),
    )
    return event_id


async def _open_alarm(point_id: UUID, metric: str, rule: str) -> dict[str, Any] | None:
    rows = await Alarm.raw(
        "SELECT * FROM monitoring_alarms WHERE point = {} AND metric = {} AND rule = {} AND status <> 'cleared'"
        " FOR UPDATE", point_id, metric, rule,
    )
    return rows[0] if rows else None


async def _create(sensor: SensorInfo, rule: str, level: int, value: float | None, cumulative: float | None,
                  rate: float | None, reasons: list[str], reading_ts: datetime | None) -> UUID:
    now = utcnow()
    alarm_id = uuid4()
    await Alarm.raw(
        "INSERT INTO monitoring_alarms (id, sensor, point, project, district, metric, rule, level, max_level, status,"
        " occurrence, raised_count, value, cumulative, rate_per_day, reasons, reading_ts, first_at, last_at)"
        " SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, COALESCE(MAX(occurrence), 0) + 1, 1, {}, {}, {}, {}::jsonb,"
        " {}, {}, {} FROM monitoring_alarms WHERE point = {} AND metric = {} AND rule = {}",
        alarm_id, sensor.id, sensor.point_id, sensor.project_id, sensor.district, sensor.metric, rule, level, level,
        ACTIVE, value, cumulative, rate, json.dumps(reasons, ensure_ascii=False), reading_ts, now, now,
        sensor.point_id, sensor.metric, rule,
    )
    return alarm_id


async def on_level_change(sensor: SensorInfo, rule: str, previous: int, level: int, *, value: float | None,
                          cumulative: float | None, rate: float | None, reasons: list[str],
                          reading_ts: datetime | None) -> UUID | None:
    """Record one level change of (point, metric, rule); returns the event to notify (or None). In a transaction."""
    now = utcnow()
    alarm = await _open_alarm(sensor.point_id, sensor.metric, rule)
    if level > previous:
        if alarm is None:
            alarm_id = await _create(sensor, rule, level, value, cumulative, rate, reasons, reading_ts)
            await start_ack_deadline(alarm_id, now)
            # a device-clock fault is the device's, not the structure's: told once, no escalation
            return await _event(alarm_id, "raised", from_level=int(previous), to_level=int(level), to_status=ACTIVE,
                                note="；".join(reasons), notify="inform" if rule == CLOCK else "escalate", at=now)
        if rule == CLOCK:
            return None
        new_status = TRANSITIONS[(alarm["status"], "raise")]
        await Alarm.raw(
            "UPDATE monitoring_alarms SET level = {}, max_level = GREATEST(max_level, {}), status = {},"
            " raised_count = raised_count + 1, value = {}, cumulative = {}, rate_per_day = {}, reasons = {}::jsonb,"
            " reading_ts = {}, last_at = {}, acked_at = CASE WHEN {} = 'active_unacknowledged' THEN NULL ELSE acked_at END"
            " WHERE id = {}",
            level, level, new_status, value, cumulative, rate, json.dumps(reasons, ensure_ascii=False), reading_ts, now,
            new_status, alarm["id"],
        )
        if alarm["status"] != ACTIVE and new_status == ACTIVE:  # re-opened: the wait starts again from now
            await start_ack_deadline(alarm["id"], now)
        return await _event(alarm["id"], "level_changed", from_level=int(previous), to_level=int(level),
                            from_status=alarm["status"], to_status=new_status, note="；".join(reasons),
                            notify="escalate", at=now)
    if alarm is None:  # cleared by hand already: nothing open to lower
        return None
    if level == Level.NORMAL:
        await Alarm.raw(
            "UPDATE monitoring_alarms SET level = 0, status = 'cleared', cleared_at = {}, last_at = {}, value = {},"
            " cumulative = {}, rate_per_day = {}, reading_ts = {} WHERE id = {}",
            now, now, value, cumulative, rate, reading_ts, alarm["id"],
        )
        await stop_ack_deadline(alarm["id"])
        return await _event(alarm["id"], "cleared", from_level=int(previous), to_level=0, from_status=alarm["status"],
                            to_status=CLEARED, note="auto: " + "；".join(reasons or ["below the clearing threshold"]),
                            notify="" if rule == CLOCK else "inform", at=now)
    await Alarm.raw(
        "UPDATE monitoring_alarms SET level = {}, last_at = {}, value = {}, cumulative = {}, rate_per_day = {},"
        " reading_ts = {} WHERE id = {}", level, now, value, cumulative, rate, reading_ts, alarm["id"],
    )
    return await _event(alarm["id"], "level_changed", from_level=int(previous), to_level=int(level),
                        from_status=alarm["status"], to_status=alarm["status"], notify="inform", at=now)


# --- who is told -----------------------------------------------------------------------------------


async def recipients(project_id: UUID, district: int, safety_director: UUID | None) -> tuple[list[UUID], list[UUID], list[UUID]]:
    """(project leads, supervisors + the contractor's safety director, the district's station inspectors)."""
    leads = await projects_service.lead_user_ids(project_id)
    parties = await ProjectParty.select(ProjectParty.enterprise).where(
        (ProjectParty.project == project_id) & (ProjectParty.role == "supervision")
    )
    supervisors: list[UUID] = []
    if parties:
        rows = await User.select(User.id).where(
            User.enterprise.is_in([p["enterprise"] for p in parties]) & (User.role == Role.SUPERVISOR.value)
            & (User.is_active == True)  # noqa: E712 - Piccolo expression
        )
        supervisors = [r["id"] for r in rows]
    if safety_director is not None:
        supervisors.append(safety_director)
    inspectors = [r["id"] for r in await User.select(User.id).where(
        (User.district == district) & (User.role == Role.INSPECTOR.value) & (User.is_active == True)  # noqa: E712
    )]
    return leads, supervisors, inspectors


def escalation_steps(level: int, groups: tuple[list[UUID], list[UUID], list[UUID]], after_s: float) -> list[EscalationStep]:
    """Lead at once, then supervisor + safety director, then the inspector; danger: everyone at once."""
    if level >= Level.DANGER:
        everyone = list(dict.fromkeys([u for g in groups for u in g]))
        return [EscalationStep(0, everyone)] if everyone else []
    return [EscalationStep(i * after_s, g) for i, g in enumerate(groups) if g]


async def tell(event_ids: list[UUID], *, settings: Settings) -> int:
    """Turn these alarm events into pushes, in the caller's transaction (the one that wrote them).

    Each event becomes notify() / escalation rows (outbox rows and timers: delivered after the commit,
    never without it) and is marked ``notified_at``; events are told in the order given, so an alarm's
    escalation is superseded in commit order. Returns how many were told."""
    if not event_ids:
        return 0
    rows = await AlarmEvent.raw(
        "SELECT e.id AS event_id, e.kind, e.notify, e.to_level, e.from_level, e.note, a.id AS alarm_id, a.project,"
        " a.district, a.metric, a.rule, a.value, a.status, p.code AS point_code, pr.name AS project_name,"
        " w.safety_director FROM monitoring_alarm_events e JOIN monitoring_alarms a ON a.id = e.alarm"
        " JOIN monitoring_points p ON p.id = a.point JOIN dangerous_works w ON w.id = p.work"
        " JOIN projects pr ON pr.id = a.project"
        " WHERE e.id = ANY({}::uuid[]) AND e.notify <> '' AND e.notified_at IS NULL"
        " ORDER BY array_position({}::uuid[], e.id)",
        event_ids, event_ids,
    )
    groups: dict[tuple[Any, ...], tuple[list[UUID], list[UUID], list[UUID]]] = {}  # who, per project, this batch
    for row in rows:
        key = (row["project"], row["district"], row["safety_director"])
        if key not in groups:
            groups[key] = await recipients(*key)
        await _send(row, groups[key], settings=settings)
    if rows:
        await AlarmEvent.raw("UPDATE monitoring_alarm_events SET notified_at = {} WHERE id = ANY({}::uuid[])",
                             utcnow(), [r["event_id"] for r in rows])
    return len(rows)


async def _send(row: dict[str, Any], groups: tuple[list[UUID], list[UUID], list[UUID]], *, settings: Settings) -> None:
    level = int(row["to_level"] or 0)
    metric = METRIC_ZH.get(row["metric"], row["metric"])
    what = {"silent": "传感器无数据", CLOCK: "设备时钟异常"}.get(row["rule"], metric)
    if row["rule"] == CLOCK and row["kind"] == "raised":
        level_text, detail = "设备故障", "设备时钟超前，未来时间的读数已拒收，请校准设备时钟"
    elif row["kind"] == "cleared":
        level_text, detail = "已解除", f"{what}报警已解除"
    elif row["notify"] == "inform":
        level_text, detail = LEVEL_ZH[Level(level)], f"{what}降为{LEVEL_ZH[Level(level)]}"
    else:
        level_text = LEVEL_ZH[Level(level)]
        value = "" if row["value"] is None else f" 值{row['value']:g}"
        detail = f"{what}{level_text}{value}"
    data = {"project": row["project_name"], "point": row["point_code"], "level": level_text, "detail": detail,
            "time": utcnow()}
    subj = subject(row["alarm_id"])
    if row["notify"] == "escalate":
        await escalation.stop_escalations(subj, "superseded by a higher level", arq=None)
        steps = escalation_steps(level, groups, settings.MONITORING_ESCALATE_AFTER_S)
        if steps:
            await escalation.start_escalation(subj, "alarm_raised", data, steps, settings=settings, arq=None,
                                              urgency=Urgency.CRITICAL if level >= Level.DANGER else Urgency.HIGH)
        return
    if row["kind"] == "cleared":
        await escalation.stop_escalations(subj, "cleared", arq=None)
    people = groups[0] or groups[1]
    await notifications.notify(people, "alarm_raised", data, dedup_key=f"alarm-event:{row['event_id']}",
                               urgency=Urgency.NORMAL, settings=settings, arq=None, subject=subj)
