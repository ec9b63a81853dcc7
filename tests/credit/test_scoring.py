"""The credit model as pure functions: decay, clamps, bands and the list rules on both sides of each edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.credit import scoring
from backend.credit.scoring import ScoredEvent

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def ev(kind: str, points: int | None = None, days_ago: float = 0) -> ScoredEvent:
    return ScoredEvent(kind, scoring.KIND_POINTS[kind] if points is None else points, NOW - timedelta(days=days_ago))


@pytest.mark.parametrize(("days", "expected"), [(-1, 1.0), (0, 1.0), (182.5, 0.5), (364, 1 / 365), (365, 0.0), (400, 0.0)])
def test_linear_decay_over_twelve_months(days, expected):
    assert scoring.weight(timedelta(days=days)) == pytest.approx(expected)


@pytest.mark.parametrize(("events", "expected"), [
    ([], 100.0),
    ([ev("material_test_failed")], 95.0),
    ([ev("spot_check_failed")], 97.0),
    ([ev("quality_hold")], 90.0),
    ([ev("complaint_substantiated")], 98.0),
    ([ev("alarm_unacknowledged")], 96.0),
    ([ev("serious_violation")], 80.0),
    ([ev("quality_hold", days_ago=182.5)], 95.0),  # half decayed
    ([ev("quality_hold", days_ago=365)], 100.0),  # no longer counts
    ([ev("manual_bonus", 10)] * 3, 110.0),  # capped
    ([ev("manual_deduction", -30)] * 4, 0.0),  # floored
])
def test_score(events, expected):
    assert scoring.score(events, NOW) == expected


@pytest.mark.parametrize(("value", "band"), [(110, "A"), (95, "A"), (94.9, "B"), (80, "B"), (79.9, "C"), (60, "C"),
                                            (59.9, "D"), (0, "D")])
def test_bands(value, band):
    assert scoring.band(value) == band


@pytest.mark.parametrize(("value", "listed", "due"), [
    (59.9, False, True), (60.0, False, False),  # enter below 60
    (69.9, True, True), (70.0, True, False),  # leave from 70 (hysteresis)
])
def test_black_list_by_score(value, listed, due):
    assert scoring.black_due(value, [], NOW, listed) is due


def test_serious_violation_black_lists_for_twelve_months_whatever_the_score():
    assert scoring.black_due(95.0, [ev("serious_violation", days_ago=364)], NOW, listed=False) is True
    assert scoring.black_due(95.0, [ev("serious_violation", days_ago=365)], NOW, listed=True) is False


@pytest.mark.parametrize(("value", "listed", "events", "due"), [
    (102.9, False, [], False), (103.0, False, [], True),
    (100.0, True, [], True), (99.9, True, [], False),
    (110.0, False, [ev("complaint_substantiated", days_ago=300)], False),  # any deduction within 12 months
    (103.0, False, [ev("complaint_substantiated", days_ago=366)], True),
])
def test_red_list(value, listed, events, due):
    assert scoring.red_due(value, events, NOW, listed) is due


@pytest.mark.parametrize(
    ("events", "listed", "due"),
    [
        # Issue 19 build 5: a listed firm leaves only when its score without manual bonuses reaches 70.
        ([("manual_deduction", -45), ("manual_bonus", 10)], True, True),  # 65 with, 55 without: stays
        ([("manual_deduction", -45), ("manual_bonus", 10), ("manual_bonus", 10)], True, True),  # 75 by bonuses: stays
        ([("manual_deduction", -30)], True, False),  # 70 earned: leaves
        ([("manual_deduction", -31), ("manual_bonus", 10)], True, True),  # 79 with, 69 without: stays
        ([("manual_deduction", -45), ("manual_bonus", 10)], False, False),  # entry is by the score: 65 is not < 60
        ([("manual_deduction", -41)], False, True),  # 59 enters
    ],
)
def test_bonuses_alone_cannot_lift_a_black_listing(events, listed, due):
    scored = [scoring.ScoredEvent(kind, points, NOW) for kind, points in events]
    assert scoring.black_due(scoring.score(scored, NOW), scored, NOW, listed=listed) is due


def test_bonus_room_in_the_rolling_year():
    year = timedelta(days=scoring.DECAY_DAYS)
    given = [scoring.ScoredEvent("manual_bonus", 6, NOW - timedelta(days=10)),
             scoring.ScoredEvent("manual_bonus", 3, NOW - year + timedelta(days=1)),  # still inside the window
             scoring.ScoredEvent("manual_bonus", 5, NOW - year),  # a year old: out
             scoring.ScoredEvent("manual_deduction", -5, NOW)]
    assert scoring.bonus_room(given, NOW, 10) == 1
    assert scoring.bonus_room(given, NOW, 5) == 0
    assert scoring.bonus_room([], NOW, 10) == 10
