"""The batch state machine (批次状态): the allowed transitions, and which states allow use."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Material(StrEnum):
    REBAR = "rebar"  # 钢筋
    CEMENT = "cement"  # 水泥
    CONCRETE = "concrete"  # 预拌混凝土
    MEMBRANE = "membrane"  # 防水卷材


class Status(StrEnum):
    REGISTERED = "registered"  # 已登记
    ENTRY_ACCEPTED = "entry_accepted"  # 进场验收合格
    ENTRY_REJECTED = "entry_rejected"  # 进场验收不合格
    SAMPLED = "sampled"  # 已见证取样
    CONFORMING = "conforming"  # 检测合格
    PARTIALLY_CHECKED = "partially_checked"  # 无不合格项，但有项目未判定
    NON_CONFORMING = "non_conforming"  # 检测不合格
    RETEST_PENDING = "retest_pending"  # 首检不合格，可双倍复验（未复验前禁止使用）
    REMOVED = "removed"  # 不合格材料已退场


class Event(StrEnum):
    ENTRY_ACCEPT = "entry_accept"
    ENTRY_REJECT = "entry_reject"
    SAMPLE = "sample"
    REPORT_PASS = "report_pass"
    REPORT_PARTIAL = "report_partial"
    REPORT_FAIL = "report_fail"
    REMOVE = "remove"
    REPORT_RETEST = "report_retest"  # a failure the standard allows to retest on double samples
    REASSESS = "reassess"  # a report voided, corrected or retested, or its lot re-assessed: status re-derived


_TESTABLE = (Status.REGISTERED, Status.ENTRY_ACCEPTED, Status.SAMPLED, Status.CONFORMING, Status.PARTIALLY_CHECKED)
# States a report can move between when reports are voided, corrected or retested (derived from the reports).
_JUDGED = (Status.REGISTERED, Status.ENTRY_ACCEPTED, Status.SAMPLED, Status.CONFORMING, Status.PARTIALLY_CHECKED,
           Status.NON_CONFORMING, Status.RETEST_PENDING)

# (from, event) → to. A later report can still fail a batch that passed an earlier one (cement 28 d after 3 d);
# a failed batch never passes again — it leaves the site (退场).
TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (Status.REGISTERED, Event.ENTRY_ACCEPT): Status.ENTRY_ACCEPTED,
    (Status.REGISTERED, Event.ENTRY_REJECT): Status.ENTRY_REJECTED,
    (Status.ENTRY_ACCEPTED, Event.SAMPLE): Status.SAMPLED,
    (Status.SAMPLED, Event.SAMPLE): Status.SAMPLED,
    (Status.CONFORMING, Event.SAMPLE): Status.CONFORMING,
    (Status.PARTIALLY_CHECKED, Event.SAMPLE): Status.PARTIALLY_CHECKED,
    **{(s, Event.REPORT_FAIL): Status.NON_CONFORMING for s in _TESTABLE},
    **{(s, Event.REPORT_PASS): Status.CONFORMING for s in _TESTABLE if s is not Status.PARTIALLY_CHECKED},
    **{(s, Event.REPORT_PARTIAL): Status.PARTIALLY_CHECKED for s in _TESTABLE if s is not Status.CONFORMING},
    (Status.PARTIALLY_CHECKED, Event.REPORT_PASS): Status.CONFORMING,
    (Status.CONFORMING, Event.REPORT_PARTIAL): Status.CONFORMING,  # a passed report is not undone by a partial one
    **{(s, Event.REPORT_RETEST): Status.RETEST_PENDING for s in _TESTABLE},
    (Status.RETEST_PENDING, Event.REPORT_FAIL): Status.NON_CONFORMING,
    (Status.NON_CONFORMING, Event.REMOVE): Status.REMOVED,
    (Status.RETEST_PENDING, Event.REMOVE): Status.REMOVED,
    (Status.ENTRY_REJECTED, Event.REMOVE): Status.REMOVED,
}

# Event.REASSESS: from a judged state to any other judged state (the target is derived from the active reports).
REASSESS_TARGETS: dict[Status, frozenset[Status]] = {s: frozenset(_JUDGED) - {s} for s in _JUDGED}

# Use is recorded only after a test report without failures (GB 50204: 复验合格后方可使用); a batch with
# properties not checked needs a named supervisor's decision first (see usable()).
USABLE = frozenset({Status.CONFORMING})
BLOCKED = frozenset({Status.NON_CONFORMING, Status.RETEST_PENDING, Status.ENTRY_REJECTED, Status.REMOVED})


def usable(status: Status, use_decision: object | None) -> bool:
    """Conforming, or partially checked with a supervisor's standing decision to accept the unchecked items."""
    return status in USABLE or (status is Status.PARTIALLY_CHECKED and use_decision is not None)


class TransitionRefused(ValueError):
    pass


def next_status(current: Status, event: Event, target: Status | None = None) -> Status:
    """The state after the event, or TransitionRefused (REASSESS names its target)."""
    if event is Event.REASSESS:
        if target is None or target not in REASSESS_TARGETS.get(current, frozenset()):
            raise TransitionRefused(f"reassess to {target} not allowed in {current.value}")
        return target
    to = TRANSITIONS.get((current, event))
    if to is None:
        raise TransitionRefused(f"{event.value} not allowed in {current.value}")
    return to


def derive_status(material: Material, reports: list[dict[str, Any]], lot_verdicts: dict[str, str],
                  base: Status) -> Status:
    """The status the active reports give a batch: a standing failure → non-conforming; a rebar failure not yet
    retested → retest pending (GB/T 17505 via GB/T 1499.2-2018); any pass → conforming; any partial → partially
    checked; no report → ``base``. A retest replaces the report it retests; concrete takes its lot's verdict."""
    retested = {r["retest_of"] for r in reports if r.get("retest_of")}
    outcomes: set[str] = set()
    for r in reports:
        if r["id"] in retested:
            continue
        verdict = lot_verdicts.get(r["lot_key"], r["verdict"]) if r.get("lot_key") else r["verdict"]
        if verdict == "fail" and material is Material.REBAR and not r.get("retest_of"):
            outcomes.add("retest")
        else:
            outcomes.add(verdict)
    if "fail" in outcomes:
        return Status.NON_CONFORMING
    if "retest" in outcomes:
        return Status.RETEST_PENDING
    if "pass" in outcomes:
        return Status.CONFORMING
    if "partial" in outcomes:
        return Status.PARTIALLY_CHECKED
    return base
