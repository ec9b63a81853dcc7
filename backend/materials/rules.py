"""The batch state machine (批次状态): the allowed transitions, and which states allow use."""

from __future__ import annotations

from enum import StrEnum


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
    REMOVED = "removed"  # 不合格材料已退场


class Event(StrEnum):
    ENTRY_ACCEPT = "entry_accept"
    ENTRY_REJECT = "entry_reject"
    SAMPLE = "sample"
    REPORT_PASS = "report_pass"
    REPORT_PARTIAL = "report_partial"
    REPORT_FAIL = "report_fail"
    REMOVE = "remove"


_TESTABLE = (Status.REGISTERED, Status.ENTRY_ACCEPTED, Status.SAMPLED, Status.CONFORMING, Status.PARTIALLY_CHECKED)

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
    (Status.NON_CONFORMING, Event.REMOVE): Status.REMOVED,
    (Status.ENTRY_REJECTED, Event.REMOVE): Status.REMOVED,
}

# Use is recorded only after a test report without failures (GB 50204: 复验合格后方可使用).
USABLE = frozenset({Status.CONFORMING, Status.PARTIALLY_CHECKED})


class TransitionRefused(ValueError):
    pass


def next_status(current: Status, event: Event) -> Status:
    """The state after the event, or TransitionRefused."""
    to = TRANSITIONS.get((current, event))
    if to is None:
        raise TransitionRefused(f"{event.value} not allowed in {current.value}")
    return to
