"""Workforce (劳务) tables: the worker registry (实名制), spot checks (抽查) and quality holds (质量暂停)."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    Boolean,
    Date,
    ForeignKey,
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


class Worker(Table, tablename="workers"):
    """A registered worker. ID number, phone and bank card are encrypted; the *_hash columns find them."""

    id = UUID(primary_key=True)
    name = Varchar(length=32)
    id_number_enc = Varchar(length=200)
    id_number_hash = Varchar(length=64, unique=True)
    sex = Varchar(length=8)
    birth_date = Date()
    phone_enc = Varchar(length=200, default="")
    phone_hash = Varchar(length=64, default="", index=True)
    bank_card_enc = Varchar(length=200, default="")
    trade = Varchar(length=32, default="")
    employer = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    contract_signed = Boolean(default=False)
    face_media_id = UUID(null=True, default=None)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
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
