"""Materials (建材): batches, their QR labels and scans, the trace chain, lab reports, and credit events."""

from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.districts.tables import District
from backend.enterprises.tables import Enterprise
from backend.projects.tables import Project


class MaterialBatch(Table, tablename="material_batches"):
    """A production batch delivered to one project (批次); status follows rules.TRANSITIONS."""

    id = UUID(primary_key=True)
    material = Varchar(length=16)  # rebar | cement | concrete | membrane
    grade = Varchar(length=32)  # HRB400E, P·O 42.5, C30, SBS I PY 4
    spec = Varchar(length=64, default="")  # Ø25, 50 kg bag …
    manufacturer = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    production_batch_no = Varchar(length=64)
    production_date = Date()
    quantity = Numeric(digits=(14, 3))
    unit = Varchar(length=16)
    certificate_key = Varchar(length=200, null=True, default=None)  # factory certificate in the files bucket
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=24, default="registered", index=True)
    version = Integer(default=1)  # bumped on every change: the trace cache key
    use_decision = UUID(null=True, default=None)  # the standing supervisor decision on unchecked items, if any
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_material_batches_mfr_batch_project = Unique(["manufacturer", "production_batch_no", "project"])


class MaterialEvent(Table, tablename="material_batch_events"):
    """One step of a batch's timeline (state transitions and recorded chain links): the audit trail."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=32)
    from_status = Varchar(length=24, default="")
    to_status = Varchar(length=24, default="")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    detail = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow())


class MaterialLabel(Table, tablename="material_labels"):
    """A printed QR label: serial 0 is the batch label, 1… are bundle labels. Revocable."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    serial = Integer(default=0)
    key_id = SmallInt()
    token = Varchar(length=80, unique=True)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Varchar(length=200, default="")
    revoked_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    scan_count = Integer(default=0)
    last_scan_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_material_labels_batch_serial = Unique(["batch", "serial"])


class MaterialScan(Table, tablename="material_scans"):
    """A scan of a label (flushed from Redis in bulk; alerting scans are written at once)."""

    id = UUID(primary_key=True)
    label = ForeignKey(references=MaterialLabel, null=True, on_delete=OnDelete.cascade, index=True)
    outcome = Varchar(length=16)  # ok | failed | removed | bad_signature | revoked | wrong_site | unknown_label
    stream_id = Varchar(length=32, null=True, default=None, unique=True)  # Redis stream entry: counted once
    scanned_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    lng = DoublePrecision(null=True, default=None)  # GCJ-02
    lat = DoublePrecision(null=True, default=None)
    district = ForeignKey(references=District, null=True, on_delete=OnDelete.set_null, index=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)


class MaterialAlert(Table, tablename="material_alerts"):
    """A counterfeit (bad signature, unknown or revoked label) or diversion (wrong site) alert."""

    id = UUID(primary_key=True)
    kind = Varchar(length=16)  # counterfeit | revoked | diversion
    batch = ForeignKey(references=MaterialBatch, null=True, on_delete=OnDelete.cascade, index=True)
    label = ForeignKey(references=MaterialLabel, null=True, on_delete=OnDelete.cascade)
    scan = ForeignKey(references=MaterialScan, null=True, on_delete=OnDelete.set_null)
    district = ForeignKey(references=District, null=True, on_delete=OnDelete.set_null, index=True)
    detail = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow(), index=True)


class TransportLeg(Table, tablename="material_transport_legs"):
    """A transport leg (运输): vehicle, from, to, times, optional GPS track (GeoJSON LineString, GCJ-02)."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    vehicle = Varchar(length=16)
    origin = Varchar(length=128)
    destination = Varchar(length=128)
    departed_at = Timestamptz()
    arrived_at = Timestamptz(null=True, default=None)
    track = JSONB(null=True, default=None)
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class EntryInspection(Table, tablename="material_entry_inspections"):
    """Site entry inspection (进场验收): accepted or rejected, quantity received."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    accepted = Boolean()
    quantity_received = Numeric(digits=(14, 3), null=True, default=None)
    note = Varchar(length=500, default="")
    inspected_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    inspected_at = Timestamptz(default=TimestamptzNow())


class Sampling(Table, tablename="material_samplings"):
    """Witnessed sampling (见证取样): the sample sent to the lab and who witnessed it."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    sample_no = Varchar(length=64)
    sampled_by = Varchar(length=64)
    witness = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    lab = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.restrict)
    sampled_at = Timestamptz(default=TimestamptzNow())

    unique_material_samplings_batch_no = Unique(["batch", "sample_no"])


class LabReport(Table, tablename="material_lab_reports"):
    """A lab test report (检测报告) with its measurements and the judgement against the standard."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    lab = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    report_no = Varchar(length=64, unique=True)
    report_date = Date()
    sample_no = Varchar(length=64, default="")
    measurements = JSONB()
    standard = Varchar(length=32)
    method = Varchar(length=64, default="")
    results = JSONB()
    verdict = Varchar(length=16)  # pass | partial | fail (the report's own judgement, never rewritten)
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    state = Varchar(length=16, default="active", index=True)  # active | voided | superseded
    retest_of = UUID(null=True, default=None)  # the failed report this one retests on double samples
    supersedes = UUID(null=True, default=None)  # the report this one corrects
    lot_key = Varchar(length=160, default="", index=True)  # concrete: the inspection lot its groups belong to
    state_reason = Varchar(length=500, default="")
    state_changed_at = Timestamptz(null=True, default=None)
    state_changed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class UseDecision(Table, tablename="material_use_decisions"):
    """A named supervisor's decision on a batch with properties not checked (未判定项目使用决定)."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    accepted = Boolean()
    reason = Varchar(length=500)
    decided_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    decider_name = Varchar(length=64)
    unchecked = JSONB(default=[])  # the properties not checked when decided
    reports = JSONB(default=[])  # the active reports it was decided on
    decided_at = Timestamptz(default=TimestamptzNow())
    lapsed_at = Timestamptz(null=True, default=None)  # a report changed after it: a new decision is needed


class ConcreteLot(Table, tablename="material_concrete_lots"):
    """An inspection lot (检验批) of concrete per GB/T 50107-2010 3.0.2 and its latest assessment."""

    id = UUID(primary_key=True)
    lot_key = Varchar(length=160, unique=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.cascade, index=True)
    grade = Varchar(length=8)
    mix_no = Varchar(length=64)
    age_days = Integer()
    period_start = Date()
    period_end = Date()  # inclusive
    sigma0 = Numeric(digits=(6, 2), null=True, default=None)
    groups = Integer(default=0)
    method = Varchar(length=32, default="")
    verdict = Varchar(length=16, default="")
    results = JSONB(default=[])
    assessed_at = Timestamptz(default=TimestamptzNow())


class ConcreteGroup(Table, tablename="material_concrete_groups"):
    """One group of cubes (一组试件) reported by a lab, with its representative value (4.3.1)."""

    id = UUID(primary_key=True)
    report = ForeignKey(references=LabReport, on_delete=OnDelete.cascade, index=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    lot_key = Varchar(length=160, index=True)
    seq = Integer()
    specimens = JSONB(default=[])
    value = Numeric(digits=(8, 2), null=True, default=None)  # None: not used for assessment (4.3.1 item 3)
    note = Varchar(length=200, default="")


class UseRecord(Table, tablename="material_use_records"):
    """Where the batch went into the works (使用部位): building / floor / element."""

    id = UUID(primary_key=True)
    batch = ForeignKey(references=MaterialBatch, on_delete=OnDelete.cascade, index=True)
    building = Varchar(length=64)
    floor = Varchar(length=32, default="")
    element = Varchar(length=64)
    quantity = Numeric(digits=(14, 3), null=True, default=None)
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    used_at = Timestamptz(default=TimestamptzNow())


class CreditEvent(Table, tablename="credit_events"):
    """An enterprise credit event (信用事件) — minimal; the credit domain (issue 9) adopts this table."""

    id = UUID(primary_key=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    project = ForeignKey(references=Project, null=True, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=48)
    points = Integer()
    evidence = Varchar(length=200)  # "<type>:<id>", e.g. material_lab_report:<uuid>
    occurred_at = Timestamptz(default=TimestamptzNow(), index=True)
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    note = Text(default="")

    unique_credit_events_kind_evidence = Unique(["enterprise", "kind", "evidence"])
