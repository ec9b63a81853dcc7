"""Credit (信用): scores with their history, red/black listings with their timeline, appeals, the audit log.

The events themselves live in ``credit_events`` (declared by the materials app, which created it
first); ``backend.credit.service.record_event`` is its only writer.
"""

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import JSONB, UUID, Float, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table
from piccolo_api.session_auth.tables import SessionsBase

from backend.enterprises.tables import Enterprise


class CreditScore(Table, tablename="credit_scores"):
    """An enterprise's current score (信用分) and band; one row per enterprise."""

    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, unique=True)
    score = Float()
    band = Varchar(length=1)
    updated_at = Timestamptz(default=TimestamptzNow())


class CreditScoreHistory(Table, tablename="credit_score_history"):
    """Every change of a score: what it was, what it became, and why."""

    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    score = Float()
    previous = Float(null=True, default=None)
    band = Varchar(length=1)
    cause = Varchar(length=200, default="")  # "event:<uuid>" | "recompute" (decay)
    at = Timestamptz(default=TimestamptzNow(), index=True)


class CreditListing(Table, tablename="credit_listings"):
    """A red list (诚信红名单) or black list (失信黑名单) entry: notice → active → removed (see listings.py)."""

    id = UUID(primary_key=True)
    enterprise = ForeignKey(references=Enterprise, on_delete=OnDelete.restrict, index=True)
    list_kind = Varchar(length=8)  # red | black
    status = Varchar(length=16, index=True)  # notice | appealed | active | withdrawn | removed
    reason = Text(default="")
    proposed_at = Timestamptz(default=TimestamptzNow())
    notice_ends_at = Timestamptz()
    effective_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())
    # An appeal does not lift a listing in force; only a regulator's suspension, with a reason, does (until decided).
    suspended_at = Timestamptz(null=True, default=None)
    suspended_by = UUID(null=True, default=None)
    suspension_reason = Text(default="")
    appeals_allowed = Integer(default=1)  # one appeal per listing; +1 each time a regulator accepts new evidence


class CreditListingEvent(Table, tablename="credit_listing_events"):
    """Every transition of a listing: the timeline of the entry and its audit trail."""

    listing = ForeignKey(references=CreditListing, on_delete=OnDelete.cascade, index=True)
    action = Varchar(length=24)
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16)
    actor = UUID(null=True, default=None)
    note = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


class CreditAppeal(Table, tablename="credit_appeals"):
    """An enterprise's appeal (异议申诉) against a listing: submitted → upheld | rejected."""

    id = UUID(primary_key=True)
    listing = ForeignKey(references=CreditListing, on_delete=OnDelete.cascade, index=True)
    submitted_by = UUID()
    reason = Text()
    status = Varchar(length=16, default="submitted")
    decided_by = UUID(null=True, default=None)
    decision_note = Text(default="")
    submitted_at = Timestamptz(default=TimestamptzNow())
    decided_at = Timestamptz(null=True, default=None)


class CreditAudit(Table, tablename="credit_audit"):
    """Who did or asked what: every change and every department query of credit data."""

    actor_kind = Varchar(length=16)  # user | api_key | system
    actor_id = UUID(null=True, default=None)
    actor_name = Varchar(length=128, default="")
    action = Varchar(length=48, index=True)
    enterprise = UUID(null=True, default=None, index=True)
    detail = JSONB(default="{}")
    at = Timestamptz(default=TimestamptzNow(), index=True)


class ConsoleUser(BaseUser, tablename="console_users"):
    """piccolo-admin's user: a mirror of a regulator admin, signed in with the staff password (see admin.py)."""

    @classmethod
    async def login(cls, username: str, password: str) -> int | None:
        """Only an active regulator admin of our ``users`` table gets in; the mirror row is refreshed."""
        from backend.credit.admin import staff_login  # the rule lives with the console

        return await staff_login(cls, username, password)


class ConsoleSession(SessionsBase, tablename="console_sessions"):
    """piccolo-admin's session cookies."""
