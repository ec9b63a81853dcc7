"""The credit model (信用评分模型), pure functions: points per kind, decay, bands, list rules.

- Every enterprise starts at BASE = 100.
- Each event carries points (negative: deductions, positive: bonuses); the default per kind is
  KIND_POINTS. An event's weight decays linearly from 1 (today) to 0 at 365 days; older events no
  longer count. score = clamp(BASE + Σ points × weight, 0, MAX_SCORE), rounded to 0.1.
- Bands: A ≥ 95, B ≥ 80, C ≥ 60, D < 60.
- Black list (失信黑名单): enters when score < 60, or on any serious violation in the last 12 months;
  leaves when score ≥ 70 — counted without manual bonuses — and no serious violation is left within 12
  months (hysteresis of 10). Manual bonuses are capped per rolling 12 months (settings.CREDIT_BONUS_CAP).
- Red list (诚信红名单): enters when score ≥ 103 and no deduction in the last 12 months; leaves on any
  deduction or when the score drops below 100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

BASE = 100.0
MAX_SCORE = 110.0
DECAY_DAYS = 365

KIND_POINTS: dict[str, int] = {
    "material_test_failed": -5,  # a lab report failed the standard (against the manufacturer)
    # cancels one material_test_failed (report voided or corrected, retest passed): the negated points, same date
    "material_test_failed_reversed": 5,
    "spot_check_failed": -3,  # a failed spot check (against the responsible subcontractors)
    "quality_hold": -10,  # a quality hold started (two failed checks running)
    "complaint_substantiated": -2,  # a complaint about the project was handled (against the general contractor)
    "alarm_unacknowledged": -4,  # a monitoring alarm was left unacknowledged past its deadline
    "serious_violation": -20,  # 重大质量违法: regulator only, black-lists at once
    "manual_deduction": -5,  # regulator's deduction with a reason (points may be given)
    "manual_bonus": 3,  # regulator's bonus with a reason, e.g. 优质工程奖 (points may be given)
}
# Issue 20, inspection requests (工序报验, backend.lifecycle.inspections).
KIND_POINTS.update({
    "inspection_failed_repeat": -2,  # a lot failed its inspection again after a re-request (against the GC)
    "inspection_answer_late": -1,  # a supervisor answered an inspection request after its due time (supervision)
    "assessment": 0,  # a third-party assessment: points from its indicators (lifecycle.assessments.points)
})
MANUAL_KINDS = frozenset({"serious_violation", "manual_deduction", "manual_bonus"})
SERIOUS_KINDS = frozenset({"serious_violation"})
BONUS_KINDS = frozenset({"manual_bonus"})

BLACK_ENTER_BELOW = 60.0
BLACK_EXIT_AT = 70.0
RED_ENTER_AT = 103.0
RED_EXIT_BELOW = 100.0

BANDS: tuple[tuple[float, str], ...] = ((95.0, "A"), (80.0, "B"), (60.0, "C"), (float("-inf"), "D"))

# What a listing means to other departments (一处失信、处处受限 / 守信激励).
RESTRICTIONS: dict[str, list[dict[str, str]]] = {
    "black": [
        {"code": "bidding_restricted", "name": "限制参加政府投资项目招投标"},
        {"code": "qualification_review", "name": "资质审批、升级从严审查"},
        {"code": "no_awards", "name": "不得参加评优评先"},
        {"code": "more_spot_checks", "name": "提高抽查频次"},
    ],
    "red": [
        {"code": "fewer_spot_checks", "name": "降低抽查频次"},
        {"code": "fast_track", "name": "行政审批绿色通道"},
    ],
}


@dataclass(frozen=True, slots=True)
class ScoredEvent:
    kind: str
    points: int
    occurred_at: datetime


def default_points(kind: str) -> int:
    return KIND_POINTS[kind]


def weight(age: timedelta) -> float:
    """Linear decay: 1 for an event of today, 0 from 365 days on (an event from the future counts fully)."""
    days = age.total_seconds() / 86400
    if days <= 0:
        return 1.0
    return max(0.0, 1.0 - days / DECAY_DAYS)


def score(events: Iterable[ScoredEvent], now: datetime) -> float:
    """BASE plus the decayed points, clamped to 0..MAX_SCORE."""
    total = BASE + sum(e.points * weight(now - e.occurred_at) for e in events)
    return round(min(MAX_SCORE, max(0.0, total)), 1)


def band(value: float) -> str:
    return next(name for floor, name in BANDS if value >= floor)


def _recent(events: Iterable[ScoredEvent], now: datetime) -> list[ScoredEvent]:
    return [e for e in events if weight(now - e.occurred_at) > 0]


def black_due(value: float, events: Iterable[ScoredEvent], now: datetime, listed: bool) -> bool:
    """Should the enterprise be (or stay) on the black list?

    A listed firm leaves only when its score WITHOUT manual bonuses reaches BLACK_EXIT_AT: bonuses count in
    the score but cannot move a firm off the black list on their own (issue 19 build 5).
    """
    events = list(events)
    serious = any(e.kind in SERIOUS_KINDS for e in _recent(events, now))
    if serious:
        return True
    if listed:
        earned = score([e for e in events if e.kind not in BONUS_KINDS], now)
        return min(value, earned) < BLACK_EXIT_AT
    return value < BLACK_ENTER_BELOW


def bonus_room(events: Iterable[ScoredEvent], now: datetime, cap: int) -> int:
    """How many manual bonus points may still be given in the rolling window (DECAY_DAYS) under the cap."""
    given = sum(e.points for e in events if e.kind in BONUS_KINDS and now - e.occurred_at < timedelta(days=DECAY_DAYS))
    return max(0, cap - given)


def red_due(value: float, events: Iterable[ScoredEvent], now: datetime, listed: bool) -> bool:
    """Should the enterprise be (or stay) on the red list?"""
    if any(e.points < 0 for e in _recent(events, now)):
        return False
    return value >= (RED_EXIT_BELOW if listed else RED_ENTER_AT)
