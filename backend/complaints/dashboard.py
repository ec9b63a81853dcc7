"""SLA dashboard (12345-style monthly figures) and the CSV export.

Definitions (also in docs/ARCHITECTURE.md):
- due: complaints of the period whose deadline has passed, or that were handled or rejected already.
- on-time handling (按时处置率): resolved or rejected no later than the deadline and never breached
  (``breached_at``: a breach of an earlier clock still counts after a reopen), over due.
- on-time closure (按时办结率): closed no later than deadline + the confirmation window, over those
  closed or whose deadline + window has passed.
- satisfaction (满意率): ratings of 4 or 5 over all ratings.
- callback verification (回访核实率): handled complaints where the citizen answered (confirmed,
  rated or reopened), over handled complaints.
- handling time: clock start to resolution, minus the time paused waiting for the citizen.
- overdue: ``rules.is_overdue`` — open and past its deadline, paused time excluded (one definition for
  this dashboard, the queue filter, the overdue list, the complaint views and Open311).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from piccolo.query import WhereRaw

from backend.access import scope as access_scope
from backend.auth.principal import Principal
from backend.complaints.rules import OPEN, Status, handling_seconds, is_overdue, overdue_sql, percentile, rate
from backend.complaints.schemas import DashboardOut
from backend.complaints.tables import Complaint
from backend.db import utcnow
from backend.settings import Settings


def _scope(actor: Principal, district: int | None) -> int | None:
    return access_scope.staff_district(actor, district)


async def _rows(district: int | None, category: str | None, start: datetime, end: datetime) -> list[dict[str, Any]]:
    query = Complaint.select().where(
        (Complaint.submitted_at >= start) & (Complaint.submitted_at < end) & (Complaint.status != Status.MERGED.value)
    )
    if district is not None:
        query = query.where(Complaint.district == district)
    if category:
        query = query.where(Complaint.category == category)
    return await query


def compute(rows: list[dict[str, Any]], now: datetime, confirm_window_s: float) -> dict[str, Any]:
    """The figures for a set of complaint rows (pure; see the module docstring)."""
    window = timedelta(seconds=confirm_window_s)
    due = handled_on_time = closure_due = closed_on_time = 0
    rated = satisfied = resolved = verified = 0
    hours: list[float] = []
    for r in rows:
        status = Status(r["status"])
        finished = r["resolved_at"] or (r["closed_at"] if status == Status.REJECTED else None)
        if finished is not None or r["deadline_at"] <= now:
            due += 1
            if finished is not None and finished <= r["deadline_at"] and r["breached_at"] is None:
                handled_on_time += 1
        if r["closed_at"] is not None or r["deadline_at"] + window <= now:
            closure_due += 1
            if r["closed_at"] is not None and r["closed_at"] <= r["deadline_at"] + window:
                closed_on_time += 1
        if r["satisfaction"] is not None:
            rated += 1
            satisfied += r["satisfaction"] >= 4
        if r["resolved_at"] is not None:
            resolved += 1
            verified += r["citizen_feedback_at"] is not None
            hours.append(handling_seconds(r["clock_started_at"], r["resolved_at"], r["paused_total_s"]) / 3600)
    open_rows = [r for r in rows if Status(r["status"]) in OPEN]
    mean = round(sum(hours) / len(hours), 3) if hours else None
    p90 = percentile(hours, 90)
    return {
        "total": len(rows),
        "due": due,
        "handled_on_time": handled_on_time,
        "on_time_handling_rate": rate(handled_on_time, due),
        "closed_on_time": closed_on_time,
        "on_time_closure_rate": rate(closed_on_time, closure_due),
        "rated": rated,
        "satisfied": satisfied,
        "satisfaction_rate": rate(satisfied, rated),
        "resolved": resolved,
        "callback_verified": verified,
        "callback_verification_rate": rate(verified, resolved),
        "mean_handling_hours": mean,
        "p90_handling_hours": round(p90, 3) if p90 is not None else None,
        "open": len(open_rows),
        "overdue_open": sum(1 for r in open_rows if is_overdue(r["status"], r["deadline_at"], r["paused_at"], now)),
        "by_status": dict(Counter(r["status"] for r in rows)),
    }


async def dashboard(
    settings: Settings, actor: Principal, district: int | None, category: str | None, start: datetime | None,
    end: datetime | None,
) -> DashboardOut:
    scope = _scope(actor, district)
    now = utcnow()
    if end is None:
        end = now
    if start is None:
        local = end.astimezone(settings.zone())
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)  # this month, local time
    rows = await _rows(scope, category, start, end)
    figures = compute(rows, now, settings.COMPLAINT_CONFIRM_WINDOW_S)
    per_district: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per_district[r["district"]].append(r)
    by_district = []
    for adcode, items in sorted(per_district.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        part = compute(items, now, settings.COMPLAINT_CONFIRM_WINDOW_S)
        by_district.append(
            {"district_adcode": adcode, "total": part["total"], "on_time_handling_rate": part["on_time_handling_rate"],
             "overdue_open": part["overdue_open"], "satisfaction_rate": part["satisfaction_rate"]}
        )
    return DashboardOut(
        period_from=start, period_to=end, district_adcode=scope, category=category, by_district=by_district, **figures
    )


async def overdue(actor: Principal, district: int | None) -> list[dict[str, Any]]:
    scope = _scope(actor, district)
    query = Complaint.select(
        Complaint.id, Complaint.number, Complaint.status, Complaint.district, Complaint.assignee,
        Complaint.deadline_at, Complaint.category,
    ).where(WhereRaw(overdue_sql(), utcnow()))
    if scope is not None:
        query = query.where(Complaint.district == scope)
    return await query.order_by(Complaint.deadline_at)


CSV_FIELDS = [
    "number", "category", "status", "district", "submitted_at", "deadline_at", "resolved_at", "closed_at",
    "overdue", "satisfaction", "reopen_count", "source",
]


async def export_csv(settings: Settings, actor: Principal, district: int | None, start: datetime, end: datetime) -> str:
    """The period's complaints as CSV (UTF-8 with BOM so that Excel opens the Chinese text)."""
    scope = _scope(actor, district)
    rows = await _rows(scope, None, start, end)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    zone = settings.zone()
    for r in sorted(rows, key=lambda r: r["submitted_at"]):
        writer.writerow([
            r[field].astimezone(zone).isoformat() if isinstance(r[field], datetime) else ("" if r[field] is None else r[field])
            for field in CSV_FIELDS
        ])
    return out.getvalue()
