"""Alarms left unacknowledged past their deadline (逾期未确认): a credit event against the contractor.

An alarm waits for acknowledgement from the moment it enters ``active_unacknowledged`` (raised, or
re-opened by a higher level after an acknowledgement). That moment schedules a durable timer
(backend/timers, kind ``alarm_ack_overdue``, key = the alarm id, due ``MONITORING_ACK_DEADLINE_S``
later) in the same transaction; acknowledging or clearing cancels it, re-opening moves it. When it
fires — after the escalation chain has reached the station — the project's general contractor
(responsible for site safety, 安全生产管理) gets one ``alarm_unacknowledged`` credit event (evidence
``alarm:<id>``), and the alarm's timeline an ``ack_overdue`` event, inside the timer's firing
transaction. Once per alarm: the event row is the marker, and credit's writer is idempotent on the evidence too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from backend.credit import service as credit_service
from backend.db import utcnow
from backend.monitoring.alarms import ACK_TIMER, ACTIVE, METRIC_ZH
from backend.monitoring.tables import Alarm
from backend.projects import service as projects_service
from backend.settings import Settings
from backend.timers import service as timers

log = structlog.get_logger("zhijian.monitoring.overdue")

OVERDUE_EVENT = "ack_overdue"

# The alarm, locked, if it is still waiting and not yet marked; ``since``: when it last entered the status.
_WAITING = f"""
SELECT a.id, a.project, a.metric, w.since
FROM monitoring_alarms a
CROSS JOIN LATERAL (
    SELECT max(e.at) AS since FROM monitoring_alarm_events e
    WHERE e.alarm = a.id AND e.to_status = '{ACTIVE}' AND e.from_status <> '{ACTIVE}'
) w
WHERE a.id = {{}} AND a.status = '{ACTIVE}'
  AND NOT EXISTS (SELECT 1 FROM monitoring_alarm_events o WHERE o.alarm = a.id AND o.kind = '{OVERDUE_EVENT}')
FOR UPDATE OF a
"""


async def record_ack_overdue(alarm_id: UUID, now: datetime, *, settings: Settings, arq: Any = None) -> bool:
    """The alarm's deadline passed: the timeline event and the contractors' credit events, in the caller's
    transaction. False (nothing written) if it was acknowledged or cleared meanwhile, already recorded, or
    its wait is not yet over (re-opened later than the timer was set)."""
    rows = await Alarm.raw(_WAITING, alarm_id)
    if not rows or rows[0]["since"] is None:
        return False
    alarm = rows[0]
    if alarm["since"] + timedelta(seconds=settings.MONITORING_ACK_DEADLINE_S) > now + timedelta(seconds=1):
        return False
    waited_h = (now - alarm["since"]).total_seconds() / 3600
    note = f"{METRIC_ZH.get(alarm['metric'], alarm['metric'])}报警超过{waited_h:.1f}小时未确认"
    contractors = await projects_service.general_contractor_ids(alarm["project"])
    await Alarm.raw(
        "INSERT INTO monitoring_alarm_events (id, alarm, kind, from_status, to_status, note, notify, at)"
        " VALUES ({}, {}, {}, {}, {}, {}, '', {})",
        uuid4(), alarm["id"], OVERDUE_EVENT, ACTIVE, ACTIVE, note, now,
    )
    for enterprise_id in contractors:
        await credit_service.record_event(
            enterprise_id, "alarm_unacknowledged", f"alarm:{alarm['id']}", settings=settings, arq=arq,
            project_id=alarm["project"], note=note, occurred_at=now,
        )
    log.info("alarm_ack_overdue", alarm=str(alarm["id"]), contractors=[str(c) for c in contractors])
    return True


async def on_timer(ctx: dict[str, Any], timer: timers.Timer) -> bool:
    """The timer service's handler for kind ``alarm_ack_overdue`` (inside the firing transaction)."""
    return await record_ack_overdue(UUID(timer.key), utcnow(), settings=ctx["settings"], arq=ctx.get("redis"))


async def schedule_missing(settings: Settings) -> int:
    """Deadline timers for waiting alarms that have none (opened before the timers, or by an older worker).

    Idempotent and cheap (an anti-join); run at the ARQ worker's start. Returns how many were scheduled."""
    rows = await Alarm.raw(
        f"SELECT a.id, w.since FROM monitoring_alarms a CROSS JOIN LATERAL (SELECT max(e.at) AS since FROM"
        f" monitoring_alarm_events e WHERE e.alarm = a.id AND e.to_status = '{ACTIVE}' AND e.from_status <> '{ACTIVE}') w"
        f" WHERE a.status = '{ACTIVE}' AND w.since IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM monitoring_alarm_events o WHERE o.alarm = a.id AND o.kind = '{OVERDUE_EVENT}')"
        f" AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.kind = '{ACK_TIMER}' AND t.key = a.id::text)")
    if not rows:
        return 0
    deadline = timedelta(seconds=settings.MONITORING_ACK_DEADLINE_S)
    n = 0
    async with Alarm._meta.db.transaction():
        for r in rows:  # one by one: rare (a deploy), and each gets its own arming task
            n += await timers.schedule(ACK_TIMER, str(r["id"]), r["since"] + deadline, {"alarm": str(r["id"])})
    log.info("alarm_ack_timers_backfilled", scheduled=n)
    return n


def register() -> None:
    """Hand the acknowledgement-deadline timers to the timer service (called by the ARQ worker at startup)."""
    timers.register(ACK_TIMER, on_timer)
