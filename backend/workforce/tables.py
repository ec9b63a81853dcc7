"""Workforce (劳务) tables: the worker registry (实名制), spot checks (抽查) and quality holds (质量暂停)."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.enterprises.tables import Enterprise
from backend.projects.tables import Project


class Worker(Table, tablename="workers"):
    """A registered worker. ID number, phone and bank card are encrypted; the *_hash columns find them."""

    id = UUID(primary_key=True)
    name = Varchar(length=32)
    id_number_enc = Varchar(length=200)
    id_number_hash = Varchar(length=64, unique=True)
    sex = Varchar(length=8)
    birth_date = Date()
    id_region_known = Boolean(default=True)  # False: a region code not in GB/T 2260 for the birth year, accepted and noted
    phone_enc = Varchar(length=200, default="")
    phone_hash = Varchar(length=64, default="", index=True)
    bank_card_enc = Varchar(length=200, default="")
    trade = Varchar(length=32, default="")
    employer = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    contract_signed = Boolean(default=False)
    face_media_id = UUID(null=True, default=None)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict, index=True)  # the clock-in looks it up
    bind_code_hash = Varchar(length=64, default="")  # the employer's one-time bind code (keyed hash), "" when none
    bind_code_expires_at = Timestamptz(null=True, default=None)
    registered_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class SpotCheck(Table, tablename="spot_checks"):
    """An inspector's spot check of a project: items pass/fail, who is responsible, evidence."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    inspector = ForeignKey(references=User, on_delete=OnDelete.restrict)
    checked_at = Timestamptz(index=True)
    passed = Boolean()
    items = JSONB()  # [{"name", "passed", "note"}]
    responsible = Array(base_column=UUID())  # labour subcontractors answerable for the failures
    batch_ids = Array(base_column=UUID())  # material batches looked at (linked in their trace)
    reinspection_of = UUID(null=True, default=None)
    notes = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class QualityHold(Table, tablename="quality_holds"):
    """Two failed spot checks running → the labour subcontractor's payment rights on the project stop.

    Workers' wages keep flowing: the general contractor pays them from the project's dedicated wage
    account (总包代发, 保障农民工工资支付条例). Only the subcontractor's issuing/approving of payroll and
    its progress payments are held.
    """

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=16, default="active", index=True)  # active | lifted
    evidence = Array(base_column=UUID())  # the spot checks that triggered it
    started_at = Timestamptz(default=TimestamptzNow())
    lifted_at = Timestamptz(null=True, default=None)
    lifted_by = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
    lift_reason = Varchar(length=500, default="")


class Team(Table, tablename="worker_teams"):
    """A team (班组) of a labour subcontractor on one project."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=64)
    leader = ForeignKey(references=Worker, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    disbanded_at = Timestamptz(null=True, default=None)  # 解散: kept for the stints' history, takes no one new

    unique_worker_teams_project_enterprise_name = Unique(["project", "enterprise", "name"])


class ProjectWorker(Table, tablename="project_workers"):
    """One stint of a worker on a project's roster (进退场): entry, optional exit; a re-entry is a new row."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    worker = ForeignKey(references=Worker, on_delete=OnDelete.restrict, index=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)  # employing subcontractor
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null)
    trade = Varchar(length=32, default="")
    daily_rate_fen = BigInt(default=0)  # agreed daily wage, in fen (分)
    entered_at = Timestamptz()
    exited_at = Timestamptz(null=True, default=None)
    entered_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    exited_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Clock(Table, tablename="worker_clocks"):
    """An accepted clock-in or clock-out (考勤): kept at least two years (see docs)."""

    id = UUID(primary_key=True)
    worker = ForeignKey(references=Worker, on_delete=OnDelete.restrict, index=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=4)  # in | out
    at = Timestamptz(index=True)  # when the worker clocked (original phone time for offline clocks)
    received_at = Timestamptz(default=TimestamptzNow())
    lng = DoublePrecision()  # GCJ-02 (converted from what the phone sent)
    lat = DoublePrecision()
    coord_type = Varchar(length=8, default="gcj02")  # the label the phone declared: wgs84 | gcj02
    raw_lng = DoublePrecision(null=True, default=None)  # the reading exactly as sent
    raw_lat = DoublePrecision(null=True, default=None)
    flags = Array(base_column=Varchar(length=32), default=list)  # why it needs review: offline, coord_mismatch, selfie_reused…
    review_status = Varchar(length=16, default="none", index=True)  # none | pending | accepted | rejected
    reviewed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    reviewed_at = Timestamptz(null=True, default=None)
    review_reason = Varchar(length=500, default="")
    selfie_sha256 = Varchar(length=64, default="", index=True)
    selfie_phash = Varchar(length=16, default="")
    body_hash = Varchar(length=64, default="")  # sha256 of the request: a reused request_id with another body conflicts
    accuracy_m = DoublePrecision(default=0.0)
    fence_distance_m = DoublePrecision(default=0.0)
    device_id = Varchar(length=128, default="")
    selfie_media_id = UUID(null=True, default=None)
    offline = Boolean(default=False)  # accepted late, flagged
    request_id = Varchar(length=64, null=True, default=None, unique=True)  # client's idempotency key


class Payroll(Table, tablename="payrolls"):
    """A subcontractor's monthly payroll (工资单) on a project, paid through the dedicated wage account."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)  # subcontractor
    month = Varchar(length=7)  # YYYY-MM
    basis = Varchar(length=16, default="attendance")  # attendance | entered
    status = Varchar(length=16, default="draft", index=True)  # draft | submitted | approved | paid
    paid_by = Varchar(length=24, null=True, default=None)  # subcontractor | general_contractor
    payer = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.restrict)
    hold = UUID(null=True, default=None)  # the quality hold in force when the GC paid
    total_fen = BigInt(default=0)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_payrolls_project_enterprise_month = Unique(["project", "enterprise", "month"])


class PayrollLine(Table, tablename="payroll_lines"):
    """One worker's line on a payroll (工资明细)."""

    id = UUID(primary_key=True)
    payroll = ForeignKey(references=Payroll, on_delete=OnDelete.cascade, index=True)
    worker = ForeignKey(references=Worker, on_delete=OnDelete.restrict, index=True)
    days = Integer(default=0)
    daily_rate_fen = BigInt(default=0)
    amount_fen = BigInt(default=0)
    paid_fen = BigInt(default=0)
    note = Varchar(length=200, default="")
    kind = Varchar(length=16, default="regular")  # regular | back_pay (days of earlier months not paid before: 补发)
    work_days = Array(base_column=Date(), default=list)  # the local dates this line pays (attendance basis)
    attendance_fen = BigInt(null=True, default=None)  # entered basis: what attendance gives for the same worker
    difference_fen = BigInt(default=0)  # entered − attendance: non-zero needs a reason at approval

    unique_payroll_lines_payroll_worker_kind = Unique(["payroll", "worker", "kind"])


class PayrollDay(Table, tablename="payroll_days"):
    """A worker's day on a project settled by an approved payroll: the ledger that pays each day exactly once.

    Written when a payroll is approved; a day with a payable clock-in and no row here is still owed and is
    counted by the next payroll (as back pay when its month is over), so nothing owed falls out of every payroll.
    """

    id = UUID(primary_key=True)
    payroll = ForeignKey(references=Payroll, on_delete=OnDelete.restrict, index=True)
    worker = ForeignKey(references=Worker, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict)
    day = Date()
    kind = Varchar(length=16, default="regular")
    rate_fen = BigInt(default=0)

    unique_payroll_days_worker_project_day = Unique(["worker", "project", "day"])


class PayrollCorrection(Table, tablename="payroll_corrections"):
    """A correction of a paid line's days or rate (更正), with its reason: the difference is paid (补发, kind
    ``correction``) or taken back (扣回, kind ``clawback``, which the approver must give a reason for) on the
    subcontractor's next payroll of a later month. The paid line is never changed; ``status`` open → applied when
    the payroll carrying it is approved (``applied_payroll``); ``next_payroll`` is the draft carrying it now.
    """

    id = UUID(primary_key=True)
    payroll = ForeignKey(references=Payroll, on_delete=OnDelete.restrict, index=True)  # the paid payroll corrected
    line = ForeignKey(references=PayrollLine, on_delete=OnDelete.restrict)
    worker = ForeignKey(references=Worker, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict)  # the subcontractor
    days_before = Integer(default=0)
    rate_before_fen = BigInt(default=0)
    amount_before_fen = BigInt(default=0)
    days_after = Integer(default=0)
    rate_after_fen = BigInt(default=0)
    amount_after_fen = BigInt(default=0)
    difference_fen = BigInt(default=0)  # after − before: > 0 back pay, < 0 claw-back
    reason = Varchar(length=500)
    status = Varchar(length=16, default="open", index=True)  # open | applied
    next_payroll = UUID(null=True, default=None)  # the unapproved payroll that carries it now
    applied_payroll = UUID(null=True, default=None)  # the approved payroll that carried it
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class PayrollEvent(Table, tablename="payroll_events"):
    """Every step of a payroll (created, submitted, approved, paid, refused), who and when: the audit trail."""

    id = UUID(primary_key=True)
    payroll = ForeignKey(references=Payroll, on_delete=OnDelete.cascade, index=True)
    action = Varchar(length=32)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    detail = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow())


class QualityHoldEvent(Table, tablename="quality_hold_events"):
    """Every step of a quality hold (placed, notified, reinspection_passed, lift_requested, lifted, refused…).

    Written in the same transaction as the hold's state change: the hold's timeline and its audit trail.
    """

    id = UUID(primary_key=True)
    hold = ForeignKey(references=QualityHold, on_delete=OnDelete.cascade, index=True)
    action = Varchar(length=32)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    detail = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow())


class ClockReviewEvent(Table, tablename="worker_clock_review_events"):
    """Every step of a flagged clock's review (flagged, accepted, rejected): who, when, why."""

    id = UUID(primary_key=True)
    clock = ForeignKey(references=Clock, on_delete=OnDelete.cascade, index=True)
    action = Varchar(length=16)
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    reason = Varchar(length=500, default="")
    at = Timestamptz(default=TimestamptzNow())
