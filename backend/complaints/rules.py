"""Complaint rules (pure): the state machine, the SLA stages, and the dashboard arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已提交
    DISPATCHED = "dispatched"  # 已分派
    ACCEPTED = "accepted"  # 已受理
    IN_PROGRESS = "in_progress"  # 处理中
    WAITING_INFO = "waiting_info"  # 待补充材料（计时暂停）
    RESOLVED = "resolved"  # 已处理
    CLOSED = "closed"  # 已办结
    REJECTED = "rejected"  # 不予受理
    REOPENED = "reopened"  # 重新处理
    MERGED = "merged"  # 已合并


OPEN = frozenset({Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_INFO, Status.REOPENED})
HANDLED = frozenset({Status.RESOLVED, Status.CLOSED})
FINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})

# action → (allowed from, to). The one table every transition goes through.
TRANSITIONS: dict[str, tuple[frozenset[Status], Status | None]] = {
    "dispatch": (frozenset({Status.SUBMITTED}), Status.DISPATCHED),
    "transfer": (frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED}), Status.DISPATCHED),
    "accept": (frozenset({Status.DISPATCHED, Status.REOPENED}), Status.ACCEPTED),
    "start": (frozenset({Status.ACCEPTED}), Status.IN_PROGRESS),
    "request_info": (frozenset({Status.ACCEPTED, Status.IN_PROGRESS}), Status.WAITING_INFO),
    "resume": (frozenset({Status.WAITING_INFO}), None),  # back to where it paused
    "resolve": (frozenset({Status.ACCEPTED, Status.IN_PROGRESS}), Status.RESOLVED),
    "reject": (frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.IN_PROGRESS}), Status.REJECTED),
    "merge": (frozenset(OPEN), Status.MERGED),
    "confirm": (frozenset({Status.RESOLVED}), Status.CLOSED),
    "auto_close": (frozenset({Status.RESOLVED}), Status.CLOSED),
    "reopen": (frozenset({Status.RESOLVED}), Status.REOPENED),
}


class TransitionRefused(ValueError):
    def __init__(self, action: str, status: Status) -> None:
        super().__init__(f"{action} is not allowed from {status}")
        self.action = action
        self.status = status


def next_status(action: str, current: Status, paused_from: str = "") -> Status:
    """The status an action leads to from the current one, or TransitionRefused."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise TransitionRefused(action, current)
    if target is None:  # resume
        return Status(paused_from) if paused_from else Status.ACCEPTED
    return target


# SLA stages as fractions of the SLA (72 h: reminders at 24 h and 48 h, warning at 66 h, breach at 72 h).
SLA_STAGES: tuple[tuple[str, float], ...] = (
    ("remind_1", 24 / 72),
    ("remind_2", 48 / 72),
    ("warning", 66 / 72),
    ("breach", 1.0),
)


@dataclass(frozen=True, slots=True)
class Due:
    stage: str
    at: datetime


def sla_schedule(submitted_at: datetime, sla_seconds: float, paused_total_s: float) -> list[Due]:
    """When each SLA stage falls due; time spent paused (waiting on the citizen) pushes them all back."""
    shift = timedelta(seconds=paused_total_s)
    return [Due(stage, submitted_at + timedelta(seconds=sla_seconds * fraction) + shift) for stage, fraction in SLA_STAGES]


def deadline(submitted_at: datetime, sla_seconds: float, paused_total_s: float) -> datetime:
    return submitted_at + timedelta(seconds=sla_seconds + paused_total_s)


def effective_deadline(deadline_at: datetime, paused_at: datetime | None, now: datetime) -> datetime:
    """The deadline with the running pause added: time waiting on the citizen never counts against the SLA."""
    return deadline_at + (now - paused_at) if paused_at is not None and now > paused_at else deadline_at


def is_overdue(status: str, deadline_at: datetime, paused_at: datetime | None, now: datetime) -> bool:
    """THE definition of overdue (dashboard, queue filter, overdue list, views, Open311): open and past its
    deadline, paused time excluded — a paused case is overdue only if its deadline had passed before the pause."""
    return Status(status) in OPEN and effective_deadline(deadline_at, paused_at, now) < now


def overdue_sql(overdue: bool = True) -> str:
    """``is_overdue`` as a SQL condition on ``complaints`` with one placeholder, now (Piccolo WhereRaw)."""
    open_list = ", ".join(f"'{s.value}'" for s in sorted(OPEN, key=lambda s: s.value))
    cond = f"(status IN ({open_list}) AND deadline_at < COALESCE(paused_at, {{}}))"
    return cond if overdue else f"NOT {cond}"


def handling_seconds(submitted_at: datetime, resolved_at: datetime, paused_total_s: float) -> float:
    """Working time to resolution, pauses excluded."""
    return max(0.0, (resolved_at - submitted_at).total_seconds() - paused_total_s)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)
