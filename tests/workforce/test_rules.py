"""Workforce rules (pure, table-driven): ID numbers, clock-in verdicts, the hold trigger, PII."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from stdnum.cn import ric

from backend.errors import BadRequest
from backend.workforce.payroll import month_bounds
from backend.workforce.pii import PiiCipher, mask_bank_card, mask_id_number
from backend.workforce.rules import ClockAttempt, PreviousClock, check_id_number, hold_begins, judge_clock

TODAY = date(2026, 11, 24)


def _id(region: str, born: str, seq: str) -> str:
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")  # it skips the last character


def test_gb_example_and_derived_fields():
    info = check_id_number("11010519491231002X", TODAY)  # the standard's own example
    assert info.birth_date == date(1949, 12, 31) and info.sex == "female" and info.region_code == "110105"
    male = check_id_number(_id("330302", "19900101", "123"), TODAY)
    assert male.sex == "male" and male.birth_date == date(1990, 1, 1)


@pytest.mark.parametrize(
    ("value", "code", "reason"),
    [
        ("11010519491231002", "ID_NUMBER_INVALID", "format"),
        ("110105194912310021", "ID_NUMBER_INVALID", "checksum"),
        (_id("330302", "19901301", "123"), "ID_NUMBER_INVALID", "birth_date"),  # month 13
        (_id("330302", "19900230", "123"), "ID_NUMBER_INVALID", "birth_date"),  # 30 February
        (_id("990302", "19900101", "123"), "ID_NUMBER_INVALID", "province"),  # 99: no province in GB/T 2260
        (_id("100302", "19900101", "123"), "ID_NUMBER_INVALID", "province"),
        ("33030219820415951X", "ID_NUMBER_INVALID", "checksum"),
        (_id("330302", "20271201", "123"), "ID_NUMBER_INVALID", None),
        (_id("330302", "20101125", "123"), "WORKER_UNDERAGE", None),  # turns 16 tomorrow: still 15 today
    ],
)
def test_id_refusals(value, code, reason):
    with pytest.raises(BadRequest) as err:
        check_id_number(value, TODAY)
    assert err.value.code == code
    if reason:
        assert err.value.detail["reason"] == reason


@pytest.mark.parametrize(
    ("value", "region_known"),
    [
        # GB 11643-1999 §5: the region code is where the number was issued; GB/T 2260 codes change over the
        # decades, so a code python-stdnum does not list for the birth year is accepted and noted, not refused.
        ("330302198204159518", False),  # issue 19's refused example (温州鹿城 in a year stdnum does not list)
        ("330302198306011231", True),
        (_id("469099", "19750505", "321"), False),  # a Hainan code nobody lists: province known, region not
        (_id("110105", "19491231", "002"), True),
        (_id("810000", "19880808", "456"), False),  # Hong Kong permit numbers: province 81 (国办发〔2018〕81号)
    ],
)
def test_unfamiliar_region_is_accepted_and_noted(value, region_known):
    info = check_id_number(value, TODAY)
    assert info.region_known is region_known and info.region_code == value[:6]


def test_working_age_boundary():
    assert check_id_number(_id("330302", "20101124", "123"), TODAY).birth_date == date(2010, 11, 24)  # 16 today
    with pytest.raises(BadRequest):
        check_id_number(_id("330302", "20101125", "123"), TODAY)


NOW = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


def attempt(**kw) -> ClockAttempt:
    base = dict(project_id="P1", kind="in", at=NOW, received_at=NOW, fence_distance_m=0.0, accuracy_m=10.0, on_roster=True)
    return ClockAttempt(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "previous", "code", "offline"),
    [
        ({}, None, None, False),
        ({"on_roster": False}, None, "NOT_ON_ROSTER", False),
        ({"fence_distance_m": 50.0, "accuracy_m": 0.0}, None, None, False),  # exactly at the tolerance
        ({"fence_distance_m": 50.1, "accuracy_m": 0.0}, None, "OUTSIDE_FENCE", False),
        ({"fence_distance_m": 90.0, "accuracy_m": 40.0}, None, None, False),  # GPS error allowed …
        ({"fence_distance_m": 101.0, "accuracy_m": 500.0}, None, "OUTSIDE_FENCE", False),  # … up to the tolerance again
        ({"at": NOW - timedelta(hours=23, minutes=59)}, None, None, True),  # offline, flagged
        ({"at": NOW - timedelta(hours=24, seconds=1)}, None, "CLOCK_TOO_LATE", False),
        ({"at": NOW + timedelta(minutes=3)}, None, "CLOCK_IN_FUTURE", False),
        ({}, PreviousClock("P1", "in", NOW - timedelta(minutes=4, seconds=59), 0.0), "DUPLICATE_CLOCK", False),
        ({}, PreviousClock("P1", "in", NOW - timedelta(minutes=5), 0.0), None, False),
        ({}, PreviousClock("P1", "out", NOW - timedelta(minutes=1), 0.0), None, False),  # out then in: fine
        ({}, PreviousClock("P2", "in", NOW - timedelta(minutes=30), 70_000.0), "IMPOSSIBLE_TRAVEL", False),  # 140 km/h
        ({}, PreviousClock("P2", "in", NOW - timedelta(minutes=30), 50_000.0), None, False),  # 100 km/h
    ],
)
def test_clock_verdicts(kw, previous, code, offline):
    verdict = judge_clock(attempt(**kw), previous, tolerance_m=50.0)
    assert verdict.code == code and verdict.accepted is (code is None) and verdict.offline is offline


@pytest.mark.parametrize(
    ("results", "hold"),
    [
        ([], False), ([False], False), ([False, False], True), ([False, True, False], False),
        ([True, False, False], True), ([False, False, True], False), ([True, True], False),
    ],
)
def test_hold_on_exactly_two_failures_running(results, hold):
    assert hold_begins(results) is hold


def test_pii_round_trip_lookup_and_tamper():
    cipher = PiiCipher("k" * 40)
    sealed = cipher.encrypt("11010519491231002X", "id_number")
    assert "1101051949" not in sealed and cipher.decrypt(sealed, "id_number") == "11010519491231002X"
    assert cipher.encrypt("11010519491231002X", "id_number") != sealed  # random nonce
    assert cipher.lookup("11010519491231002x", "id_number") == cipher.lookup("11010519491231002X ", "id_number")
    assert cipher.lookup("13800001234", "phone") != PiiCipher("j" * 40).lookup("13800001234", "phone")
    with pytest.raises(InvalidTag):
        cipher.decrypt(sealed, "phone")  # bound to its field
    with pytest.raises(InvalidTag):
        PiiCipher("j" * 40).decrypt(sealed, "id_number")


def test_masks():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_bank_card("6222 0212 3456 7890") == "**** **** **** 7890"


@pytest.mark.parametrize(("month", "timezone", "start", "end"), [
    ("2026-11", "Asia/Shanghai", "2026-10-31T16:00:00+00:00", "2026-11-30T16:00:00+00:00"),
    ("2026-12", "Asia/Shanghai", "2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00"),  # over the year's end
    ("2026-12", "UTC", "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),  # the zone is settings.TIMEZONE's
])
def test_month_bounds_in_the_configured_time_zone(month, timezone, start, end):
    got = month_bounds(month, timezone)
    assert (got[0].astimezone(UTC).isoformat(), got[1].astimezone(UTC).isoformat()) == (start, end)
