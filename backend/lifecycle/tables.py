"""A project's stage events and its inspection requests (工序报验) with their timelines."""

from piccolo.columns import (
    JSONB,
    UUID,
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
from piccolo.table import Table

from backend.accounts.tables import User
from backend.enterprises.tables import Enterprise
from backend.projects.tables import Project


class StageEvent(Table, tablename="project_stage_events"):
    """One stage transition of a project (the audit trail): who, when, and what was recorded (permit, minutes)."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=32)
    from_stage = Varchar(length=24)
    to_stage = Varchar(length=24)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    actor_role = Varchar(length=20, default="")
    at = Timestamptz(default=TimestamptzNow(), index=True)
    note = Text(default="")
    detail = JSONB(default={})


class InspectionRequest(Table, tablename="inspection_requests"):
    """工序报验: the contractor asks the supervisor to inspect a lot or sub-item; status by rules.INSPECTION_TRANSITIONS."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    stage = Varchar(length=16, index=True)  # rules.InspectionStage
    lot = Varchar(length=100)  # 检验批 / 分项工程
    location = Varchar(length=200)
    description = Text(default="")
    status = Varchar(length=16, default="submitted", index=True)
    previous = UUID(null=True, default=None)  # the failed request this one re-requests
    submitted_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    submitted_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz(index=True)
    answered_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    answered_at = Timestamptz(null=True, default=None)
    findings = Text(default="")
    reminded_at = Timestamptz(null=True, default=None)
    escalated_at = Timestamptz(null=True, default=None)
    audited_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    audited_at = Timestamptz(null=True, default=None)
    audit_verdict = Varchar(length=16, default="")  # "" | uphold | overturn


class InspectionEvent(Table, tablename="inspection_request_events"):
    """The request's timeline: submitted, passed, failed, resubmitted, reminded, escalated, audit_*."""

    id = UUID(primary_key=True)
    request = ForeignKey(references=InspectionRequest, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=24)
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16, default="")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    at = Timestamptz(default=TimestamptzNow())
    note = Text(default="")


class Assessment(Table, tablename="credit_assessments"):
    """A third-party assessment (第三方评估) of an enterprise on a project; feeds credit (lifecycle.assessments)."""

    id = UUID(primary_key=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    assessor = Varchar(length=100)
    period_start = Date()
    period_end = Date()
    quality_behaviour = DoublePrecision()  # 0–100
    personnel_certified_share = DoublePrecision()  # 0–1
    equipment_good_share = DoublePrecision()  # 0–1
    composite = DoublePrecision()
    points = Integer()
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    recorded_at = Timestamptz(default=TimestamptzNow())


class KeyPerson(Table, tablename="project_key_personnel"):
    """A project's key person (项目经理, 总监理工程师, 专职安全员, 技术负责人) and the certificate's expiry."""

    project = ForeignKey(references=Project, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=24)
    name = Varchar(length=32)
    certificate_no = Varchar(length=64)
    expires_on = Date()
    updated_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class InspectionDocument(Table, tablename="inspection_documents"):
    """A document attached to an inspection request (检测报告、隐蔽验收记录…): PDF/JPEG/PNG in the files bucket."""

    id = UUID(primary_key=True)
    request = ForeignKey(references=InspectionRequest, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=120)
    key = Varchar(length=200)
    content_type = Varchar(length=32)
    bytes = Integer()
    sha256 = Varchar(length=64)
    uploaded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    uploaded_at = Timestamptz(default=TimestamptzNow())
