"""The audit of unmasked personal data (个人信息查阅记录): every unmasked read and export, read by city admins."""

from piccolo.columns import UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PiiRead(Table, tablename="pii_reads"):
    """One unmasked read (a worker's record) or unmasked export (a project's month)."""

    id = UUID(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = UUID(index=True)  # the user who read (no FK: the audit outlives accounts)
    actor_role = Varchar(length=20)
    actor_enterprise = UUID(null=True, default=None)
    what = Varchar(length=32)  # worker_pii | export
    worker = UUID(null=True, default=None, index=True)
    project = UUID(null=True, default=None)
    detail = Varchar(length=64, default="")  # the export's month
    client_ip = Varchar(length=64, default="")
