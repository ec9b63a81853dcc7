"""Privacy tables (issue 23): the log of retention runs."""

from piccolo.columns import JSONB, UUID, Boolean, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class RetentionRun(Table, tablename="retention_runs"):
    """One run of the retention job: the moment it judged by, dry or real, and what it did (or would do) per rule."""

    id = UUID(primary_key=True)
    as_of = Timestamptz()  # the "now" the cut-offs were computed from
    dry_run = Boolean(default=False)
    counts = JSONB(default="{}")  # {rule: rows (or objects) changed / that would change}
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
