"""Alarms left unacknowledged past their deadline (逾期未确认): a credit event against the contractor.

An alarm waits for acknowledgement from the moment it enters ``active_unacknowledged`` (raised, or
re-opened by a higher level after an acknowledgement). When it has waited longer than
``MONITORING_ACK_DEADLINE_S`` — after the escalation chain has reached the station — the project's
general contractor (responsible for site safety, 安全生产管理) gets one ``alarm_unacknowledged``
credit event (evidence ``alarm:<id>``), and the alarm's timeline an ``ack_overdue`` event. Once per
alarm: the event row is the marker, and credit's writer is idempotent on the evidence too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import structlog
from arq.connections import ArqRedis

from backend.credit import service as credit_service
from backend.monitoring.alarms import ACTIVE, METRIC_ZH
from backend.monitoring.tables import Alarm
from backend.projects import service as projects_service
from backend.settings import Settings

log = structlog.get_logger("zhijian.monitoring.overdue")

OVERDUE_EVENT = "ack_overdue"

_DUE = f"""
SELECT a.id, a.project, a.metric, a.level, w.since
FROM monitoring_alarms a
CROSS JOIN LATERAL (
    SELECT max(e.at) AS since FROM monitoring_alarm_events e
    WHERE e.alarm = a.id AND e.to_status = '{ACTIVE}' AND e.from_status <> '{ACTIVE}'
) w
WHERE a.status = '{ACTIVE}'
  AND NOT EXISTS (SELECT 1 FROM monitoring_alarm_events o WHERE o.alarm = a.id AND o.kind = '{OVERDUE_EVENT}')
  AND w.since < {{}}
ORDER BY w.since
LIMIT {{}}
"""


async def record_ack_overdue(now: datetime, *, settings: Settings, arq: ArqRedis | None, limit: int = 200) -> int:
    """Alarms unacknowledged past the deadline → one credit event each for the contractor; returns how many."""
    cutoff = now - timedelta(seconds=settings.MONITORING_ACK_DEADLINE_S)
    due = await Alarm.raw(_DUE, cutoff, limit)
    done = 0
    for alarm in due:
        async with Alarm._meta.db.transaction():
            # Re-read under a lock: acknowledged meanwhile, or another worker got here first → nothing.
            locked = await Alarm.raw(
                "SELECT id FROM monitoring_alarms WHERE id = {} AND status = {} AND NOT EXISTS (SELECT 1 FROM"
                " monitoring_alarm_events o WHERE o.alarm = monitoring_alarms.id AND o.kind = {}) FOR UPDATE",
                alarm["id"], ACTIVE, OVERDUE_EVENT,
            )
            if not locked:
                continue
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
        done += 1
        log.info("alarm_ack_overdue", alarm=str(alarm["id"]), contractors=[str(c) for c in contractors])
    return done
