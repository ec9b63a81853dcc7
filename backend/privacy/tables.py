"""Privacy tables (issue 23): the log of retention runs, consents to the notices."""

from piccolo.columns import JSONB, UUID, Boolean, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User


class RetentionRun(Table, tablename="retention_runs"):
    """One run of the retention job: the moment it judged by, dry or real, and what it did (or would do) per rule."""

    id = UUID(primary_key=True)
    as_of = Timestamptz()  # the "now" the cut-offs were computed from
    dry_run = Boolean(default=False)
    counts = JSONB(default="{}")  # {rule: rows (or objects) changed / that would change}
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class Consent(Table, tablename="privacy_consents"):
    """A user's acceptance of one version of a notice (PIPL 第14条; 第29条 separate consent for sensitive items)."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    item = Varchar(length=16)  # general | location | face
    version = Varchar(length=16)
    accepted_at = Timestamptz(default=TimestamptzNow())
    withdrawn_at = Timestamptz(null=True, default=None)

    unique_privacy_consents_user_item_version = Unique(["user", "item", "version"])
