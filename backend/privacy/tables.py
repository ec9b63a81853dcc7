"""Privacy tables (issue 23): retention runs, consents to the notices, people's requests about their data."""

from piccolo.columns import JSONB, UUID, Boolean, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
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


class PrivacyRequest(Table, tablename="privacy_requests"):
    """A person's request about their own data (PIPL 第44-47条): access (copy), correction, account closing.

    Access and closing are done at once by the system and logged answered; a correction is answered by the
    responsible station before ``due_at`` (reminder and escalation are timers, kind ``privacy_request``).
    """

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=16)  # access | correction | closure
    status = Varchar(length=16, index=True)  # open | answered | rejected
    district = Integer(null=True, default=None, index=True)  # the responsible station's district (None: the city)
    field = Varchar(length=32, default="")  # correction: what is wrong (a key of CORRECTABLE)
    requested_change = Varchar(length=500, default="")  # correction: what it should say, in the person's words
    answer = Varchar(length=500, default="")
    due_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())
    answered_at = Timestamptz(null=True, default=None)
    answered_by = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)


class PrivacyRequestEvent(Table, tablename="privacy_request_events"):
    """The trail of a request: every transition, reminder and escalation."""

    id = UUID(primary_key=True)
    request = ForeignKey(references=PrivacyRequest, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=16)  # submitted | answered | rejected | reminded | escalated
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16, default="")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
    note = Varchar(length=500, default="")
    at = Timestamptz(default=TimestamptzNow())
