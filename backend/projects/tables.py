"""Construction projects (工程项目), their parties and their project-lead users."""

from piccolo.columns import JSONB, UUID, DoublePrecision, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.districts.tables import District
from backend.enterprises.tables import Enterprise


class Project(Table, tablename="projects"):
    """A building site under supervision; location and geofence in GCJ-02."""

    id = UUID(primary_key=True)
    name = Varchar(length=128)
    permit_no = Varchar(length=64, unique=True)
    address = Varchar(length=200, default="")
    lng = DoublePrecision()
    lat = DoublePrecision(index=True)
    geofence = JSONB(null=True, default=None)
    district = ForeignKey(references=District, null=False, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=24, default="under_construction")
    # 项目阶段 (backend.lifecycle.rules.Stage); changed only by backend.lifecycle.stages.transition().
    stage = Varchar(length=24, default="started", index=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ProjectParty(Table, tablename="project_parties"):
    """An enterprise's role on a project (owner, general contractor, labour subcontractor, supervision)."""

    project = ForeignKey(references=Project, on_delete=OnDelete.cascade, index=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=32)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_party = Unique(["project", "enterprise", "role"])


class ProjectLead(Table, tablename="project_leads"):
    """A user who leads a project and receives its alarms."""

    project = ForeignKey(references=Project, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_lead = Unique(["project", "user"])
