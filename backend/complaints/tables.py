"""Complaints (投诉): categories, the complaint with its SLA clock, its timeline, timers and supporters."""

from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.districts.tables import District, Station
from backend.projects.tables import Project


class Category(Table, tablename="complaint_categories"):
    """An Open311 service: what a citizen can report, with its own SLA if it differs."""

    code = Varchar(length=32, primary_key=True)
    name = Varchar(length=32)
    description = Varchar(length=200, default="")
    sla_hours = DoublePrecision(null=True, default=None)
    active = Boolean(default=True)
    sort = Integer(default=0)


class Complaint(Table, tablename="complaints"):
    """A citizen's report; the SLA deadline lives here (timers only remind of it)."""

    id = UUID(primary_key=True)
    seq = Serial()
    number = Varchar(length=24, unique=True)
    citizen = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict, index=True)
    source = Varchar(length=64, default="miniprogram")
    category = ForeignKey(references=Category, on_delete=OnDelete.restrict)
    description = Text()
    address = Varchar(length=200, default="")
    lng = DoublePrecision()
    lat = DoublePrecision(index=True)
    district = ForeignKey(references=District, null=True, on_delete=OnDelete.restrict, index=True)
    station = ForeignKey(references=Station, null=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=True, on_delete=OnDelete.restrict, index=True)
    assignee = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=16, index=True)
    paused_from = Varchar(length=16, default="")
    submitted_at = Timestamptz(index=True)
    clock_started_at = Timestamptz()  # submission, or the reopening that restarted the clock
    sla_seconds = DoublePrecision()
    deadline_at = Timestamptz(index=True)
    paused_at = Timestamptz(null=True, default=None)
    paused_total_s = DoublePrecision(default=0)
    sla_version = Integer(default=1)
    overdue = Boolean(default=False, index=True)
    overdue_at = Timestamptz(null=True, default=None)
    breached_at = Timestamptz(null=True, default=None)  # the first breach of any clock; a reopen keeps it (rates)
    dispatched_at = Timestamptz(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    resolution_notes = Text(default="")
    reject_reason = Varchar(length=500, default="")
    satisfaction = Integer(null=True, default=None)
    satisfaction_comment = Varchar(length=500, default="")
    citizen_feedback_at = Timestamptz(null=True, default=None)
    merged_into = UUID(null=True, default=None)
    reopen_count = Integer(default=0)
    contact = JSONB(default="{}")  # Open311 submitter contact (never shown to enterprises)
    updated_at = Timestamptz(default=TimestamptzNow())


class Event(Table, tablename="complaint_events"):
    """The timeline and the audit trail: every transition, dispatch, bounce and reminder."""

    complaint = ForeignKey(references=Complaint, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=24)
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16, default="")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
    reason = Varchar(length=500, default="")
    data = JSONB(default="{}")
    public = Boolean(default=True)
    at = Timestamptz(default=TimestamptzNow())


class Timer(Table, tablename="complaint_timers"):
    """A due moment of a complaint (reminders, warning, breach, auto-close); fired once per version."""

    complaint = ForeignKey(references=Complaint, on_delete=OnDelete.cascade, index=True)
    stage = Varchar(length=16)
    version = Integer()
    due_at = Timestamptz(index=True)
    fired_at = Timestamptz(null=True, default=None)
    cancelled = Boolean(default=False)

    unique_complaint_timer = Unique(["complaint", "stage", "version"])


class Supporter(Table, tablename="complaint_supporters"):
    """A citizen who joined an existing report instead of filing a duplicate."""

    complaint = ForeignKey(references=Complaint, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict)
    at = Timestamptz(default=TimestamptzNow())

    unique_complaint_supporter = Unique(["complaint", "user"])


class Duty(Table, tablename="inspector_duty"):
    """Whether an inspector takes new cases now (absent row: on duty)."""

    user = ForeignKey(references=User, unique=True, on_delete=OnDelete.cascade)
    on_duty = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())
