"""The transactional outbox (发件箱): one row per external side effect, written with the change that causes it."""

from piccolo.columns import JSONB, UUID, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxMessage(Table, tablename="outbox"):
    """A WeChat push, a webhook call or a task, delivered at least once by a worker holding its lease.

    status: pending → done | dead. A pending row with ``lease_until`` in the future is being worked on;
    one whose lease has run out (its worker died) is claimed again by the next worker.
    """

    id = UUID(primary_key=True)
    kind = Varchar(length=32)  # wechat | webhook | task
    ref = UUID(null=True, default=None)  # the receipt (notification_deliveries / webhook_deliveries) it delivers
    payload = JSONB(default="{}")  # task: {"name": ..., "args": [...]}
    status = Varchar(length=16, default="pending")
    attempts = Integer(default=0)
    available_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    lease_owner = Varchar(length=64, default="")
    last_error = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    done_at = Timestamptz(null=True, default=None)
