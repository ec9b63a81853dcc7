"""Durable timers (定时): "at time T do X" rows — the truth; ARQ deferred jobs only make them punctual."""

from piccolo.columns import JSONB, UUID, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class DueTimer(Table, tablename="timers"):
    """One due moment of (kind, key): scheduled → fired | cancelled; a move bumps ``version``."""

    id = UUID(primary_key=True)
    kind = Varchar(length=32)  # the handler: escalation, ...
    key = Varchar(length=200)  # what it is about, unique per kind: "{escalation}:{step}"
    due_at = Timestamptz()
    payload = JSONB(default="{}")
    status = Varchar(length=16, default="scheduled")
    version = Integer(default=1)
    fired_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_kind_key = Unique(["kind", "key"])
