"""Monitoring's deferred work: the acknowledgement deadline is a durable timer (overdue.register), no cron;
``schedule_missing`` gives waiting alarms opened before that their timer (ARQ worker start)."""

from __future__ import annotations

from backend.monitoring.overdue import register as register_timers
from backend.monitoring.overdue import schedule_missing as schedule_missing_ack_timers

__all__ = ["register_timers", "schedule_missing_ack_timers"]
