"""Monitoring's deferred work: the acknowledgement deadline is a durable timer (overdue.register), no cron."""

from __future__ import annotations

from backend.monitoring.overdue import register as register_timers

__all__ = ["register_timers"]
