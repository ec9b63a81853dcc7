"""Workforce rules (pure): ID numbers, clock-in acceptance, and when a quality hold begins.

The domain (registry, roster, clock-in API, spot checks, holds, payroll) builds on these; see
issue 5. Sources: GB 11643-1999 (ID number), 建市〔2019〕18号 (real-name attendance),
保障农民工工资支付条例 (wages keep flowing through the general contractor during a hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent, ValidationError

from backend.errors import BadRequest

MIN_WORKING_AGE = 16  # 劳动法: no employment under 16
DUPLICATE_WINDOW = timedelta(minutes=5)
OFFLINE_LIMIT = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=2)
MAX_TRAVEL_KMH = 120.0  # faster than this between two sites is not a person travelling


# Province-level codes (first two digits) of GB/T 2260 (行政区划代码): 11-15 华北, 21-23 东北, 31-37 华东,
# 41-46 中南, 50-54 西南, 61-65 西北, 71 台湾, 81 香港, 82 澳门; 83 is the code 《港澳台居民居住证申领发放
# 办法》(国办发〔2018〕81号) gives Taiwan residents' residence permits, whose numbers follow GB 11643 too.
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82", "83",
})


@dataclass(frozen=True, slots=True)
class IdInfo:
    number: str
    birth_date: date
    sex: str  # "male" | "female"
    region_code: str
    region_known: bool  # the six-digit code is in python-stdnum's GB/T 2260 table for the birth year


def check_id_number(value: str, today: date) -> IdInfo:
    """A resident ID number (GB 11643-1999): 18 characters, checksum (ISO 7064 MOD 11-2), a real birth date, a
    known province; the full region code is only noted (codes are where the number was issued and change over
    the decades, so an unfamiliar one is accepted, never refused)."""
    number = ric.compact(value or "")
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "format"})
    if number[-1] != ric.calc_check_digit(number):
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "checksum"})
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent as exc:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "birth_date"}) from exc
    if number[:2] not in PROVINCE_CODES:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "province"})
    if born > today:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "birth_date_in_future"})
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_WORKING_AGE:
        raise BadRequest("WORKER_UNDERAGE", detail={"age": age})
    try:
        ric.get_birth_place(number)
        known = True
    except (ValidationError, KeyError, ValueError):  # stdnum's table lacks the code (or its county field)
        known = False
    return IdInfo(number=number, birth_date=born, sex="male" if int(number[16]) % 2 else "female",
                  region_code=number[:6], region_known=known)


@dataclass(frozen=True, slots=True)
class ClockAttempt:
    """What the phone sends, already converted: where (GCJ-02 metres from the fence), when, which project."""

    project_id: str
    kind: str  # "in" | "out"
    at: datetime  # when the worker clocked (the phone's time; may be hours old when offline)
    received_at: datetime
    fence_distance_m: float  # 0 inside the geofence
    accuracy_m: float  # what wx.getLocation reports
    on_roster: bool


@dataclass(frozen=True, slots=True)
class PreviousClock:
    project_id: str
    kind: str
    at: datetime
    distance_to_this_site_m: float  # from the previous clock's position to this attempt's position


@dataclass(frozen=True, slots=True)
class ClockVerdict:
    accepted: bool
    code: str | None = None  # refusal code
    offline: bool = False  # accepted late: flagged


def judge_clock(attempt: ClockAttempt, previous: PreviousClock | None, tolerance_m: float) -> ClockVerdict:
    """Accept a clock-in/out, or refuse it with a stable code (checks in this order)."""
    if not attempt.on_roster:
        return ClockVerdict(False, "NOT_ON_ROSTER")
    if attempt.at > attempt.received_at + CLOCK_SKEW:
        return ClockVerdict(False, "CLOCK_IN_FUTURE")
    late = attempt.received_at - attempt.at
    if late > OFFLINE_LIMIT:
        return ClockVerdict(False, "CLOCK_TOO_LATE")
    # GPS error counts in the worker's favour up to the tolerance again, never more.
    if attempt.fence_distance_m > fence_limit_m(tolerance_m, attempt.accuracy_m):
        return ClockVerdict(False, "OUTSIDE_FENCE")
    if previous is not None:
        gap = abs((attempt.at - previous.at).total_seconds())
        if previous.kind == attempt.kind and previous.project_id == attempt.project_id and gap < DUPLICATE_WINDOW.total_seconds():
            return ClockVerdict(False, "DUPLICATE_CLOCK")
        if previous.project_id != attempt.project_id:
            hours = max(gap / 3600.0, 1e-6)
            if previous.distance_to_this_site_m / 1000.0 / hours > MAX_TRAVEL_KMH:
                return ClockVerdict(False, "IMPOSSIBLE_TRAVEL")
    return ClockVerdict(True, None, offline=late > CLOCK_SKEW)


# Two readings of one place (wx.getLocation asked once per type) differ by GPS drift between the two calls,
# tens of metres; a mislabelled pair differs by the GCJ-02 offset (about 500-600 m around Wenzhou,
# backend.geo.coords). 100 m parts the two; it is our bound, not a published value.
COORD_AGREE_M = 100.0


def fence_limit_m(tolerance_m: float, accuracy_m: float) -> float:
    """How far outside the fence a reading may lie: GPS error counts up to the tolerance again, never more."""
    return tolerance_m + min(max(accuracy_m, 0.0), tolerance_m)


@dataclass(frozen=True, slots=True)
class CoordinateVerdict:
    distance_m: float  # the fence distance judge_clock decides on
    flags: list[str]


def judge_coordinates(declared_m: float, other_m: float, limit_m: float, pair_gap_m: float | None,
                      declared: str, device_types: set[str]) -> CoordinateVerdict:
    """The fence check cannot be moved ~550 m by the coordinate label alone (issue 19: a true WGS-84 reading
    labelled gcj02 passes 545 m away; a GCJ-02 reading labelled wgs84 is refused 20 m inside).

    declared_m: the reading's distance to the fence read as the declared type; other_m: read as the other type;
    pair_gap_m: distance between this reading and the same moment's reading of the other type (both converted),
    None when the phone sent only one. When the two readings of one reading disagree about inside/outside, the
    label decides the verdict, so:
    - a second reading that agrees (≤ COORD_AGREE_M) confirms the label: the declared reading is judged;
    - one that disagrees: ``coord_mismatch``, the inside reading is let in and a person reviews it;
    - no second reading: ``coord_unverified``, the same;
    plus ``coord_type_changed`` when this device declared another type before (the mini-program asks one).
    """
    flags = ["coord_type_changed"] if device_types and declared not in device_types else []
    inside_declared, inside_other = declared_m <= limit_m, other_m <= limit_m
    if inside_declared == inside_other:
        mismatch = pair_gap_m is not None and pair_gap_m > COORD_AGREE_M
        return CoordinateVerdict(declared_m, flags + (["coord_mismatch"] if mismatch else []))
    if pair_gap_m is not None and pair_gap_m <= COORD_AGREE_M:
        return CoordinateVerdict(declared_m, flags)
    return CoordinateVerdict(min(declared_m, other_m), flags + ["coord_mismatch" if pair_gap_m is not None else "coord_unverified"])


def clock_flags(*, offline: bool, outside_tolerance: bool, before_entry: bool, selfie_reused: bool,
                coordinates: list[str]) -> list[str]:
    """Why an accepted clock waits for the employer's or the GC's review before it is paid (empty: it is not).

    offline: sent more than CLOCK_SKEW after it was made (up to OFFLINE_LIMIT); outside_tolerance: beyond the
    fence tolerance, let in only by the reading's own accuracy; before_entry: dated before the roster stint began
    (先签合同后进场, 建市〔2019〕18号 per shared/domain/standards.md §4.1: no day on site before the entry); selfie_reused: the picture proved
    another worker's clock or another day's; coordinates: ``judge_coordinates``.
    """
    flags = [name for name, on in (("offline", offline), ("outside_tolerance", outside_tolerance),
                                   ("before_entry", before_entry), ("selfie_reused", selfie_reused)) if on]
    return flags + coordinates


def hold_begins(results: Sequence[bool]) -> bool:
    """Spot-check results of one project, oldest first (True = passed): hold on two failures running.

    Exactly on the second consecutive failure: fail-fail holds, fail-pass-fail does not.
    """
    return len(results) >= 2 and not results[-1] and not results[-2]
