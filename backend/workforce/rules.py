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
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from backend.errors import BadRequest

MIN_WORKING_AGE = 16  # 劳动法: no employment under 16
DUPLICATE_WINDOW = timedelta(minutes=5)
OFFLINE_LIMIT = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=2)
MAX_TRAVEL_KMH = 120.0  # faster than this between two sites is not a person travelling


@dataclass(frozen=True, slots=True)
class IdInfo:
    number: str
    birth_date: date
    sex: str  # "male" | "female"
    region_code: str


def check_id_number(value: str, today: date) -> IdInfo:
    """A resident ID number (GB 11643): checksum, birth date, region; derive sex and birth date."""
    try:
        number = ric.validate(value)
    except InvalidChecksum as exc:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "checksum"}) from exc
    except InvalidComponent as exc:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "birth_date_or_region"}) from exc
    except (InvalidLength, InvalidFormat, ValidationError) as exc:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "format"}) from exc
    born = ric.get_birth_date(number)
    if born > today:
        raise BadRequest("ID_NUMBER_INVALID", detail={"reason": "birth_date_in_future"})
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_WORKING_AGE:
        raise BadRequest("WORKER_UNDERAGE", detail={"age": age})
    return IdInfo(number=number, birth_date=born, sex="male" if int(number[16]) % 2 else "female", region_code=number[:6])


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
    if attempt.fence_distance_m > tolerance_m + min(max(attempt.accuracy_m, 0.0), tolerance_m):
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


def hold_begins(results: Sequence[bool]) -> bool:
    """Spot-check results of one project, oldest first (True = passed): hold on two failures running.

    Exactly on the second consecutive failure: fail-fail holds, fail-pass-fail does not.
    """
    return len(results) >= 2 and not results[-1] and not results[-2]
