"""What a payroll pays, from attendance: each owed day exactly once, late ones as back pay (补发).

A day is owed when the worker has a payable clock-in on the project that local day (settings.TIMEZONE),
within a stint with the subcontractor: review status none or accepted (``clock_review.PAYABLE``) — a
flagged clock is paid once the employer or the GC accepts it. A day is settled when an approved payroll
claimed it (a PayrollDay row). A payroll for month M pays every owed, unsettled day up to the end of M: those
in M as its regular line, earlier ones as a separate ``back_pay`` line (exported as such). So late clocks,
accepted offline clocks, corrections after payment and days after a current-month payroll was approved all
come back on the next payroll; none falls out (保障农民工工资支付条例 第三条: wages paid in full and on time).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from backend.errors import Conflict
from backend.workforce.clock_review import PAYABLE
from backend.workforce.tables import Payroll, PayrollDay

_OWED_SQL = """
SELECT o.worker AS worker, o.day AS day, max(o.rate) AS rate
FROM (SELECT c.worker, c.project, (c.at AT TIME ZONE {})::date AS day, pw.daily_rate_fen AS rate
      FROM worker_clocks c
      JOIN project_workers pw ON pw.worker = c.worker AND pw.project = c.project
       AND c.at >= pw.entered_at AND (pw.exited_at IS NULL OR c.at <= pw.exited_at)
      WHERE c.project = {} AND pw.enterprise = {} AND c.kind = 'in' AND c.at < {}
        AND c.review_status = ANY({}::varchar[])) o
WHERE NOT EXISTS (SELECT 1 FROM payroll_days d WHERE d.worker = o.worker AND d.project = o.project AND d.day = o.day)
GROUP BY o.worker, o.day
ORDER BY 1, 2
"""


async def owed_lines(project_id: UUID, enterprise_id: UUID, month_start_local: date, end: Any,
                     timezone: str) -> list[dict[str, Any]]:
    """The lines a payroll of the month pays: per worker a regular line (days in the month) and a back_pay line
    (unsettled days before it), each with its days, rate and amount."""
    rows = await Payroll.raw(_OWED_SQL, timezone, project_id, enterprise_id, end, list(PAYABLE))
    lines: dict[tuple[UUID, str], dict[str, Any]] = {}
    for r in rows:
        kind = "regular" if r["day"] >= month_start_local else "back_pay"
        line = lines.setdefault((r["worker"], kind), {
            "worker": r["worker"], "kind": kind, "days": 0, "daily_rate_fen": 0, "amount_fen": 0, "work_days": []})
        line["days"] += 1
        line["amount_fen"] += int(r["rate"])
        line["daily_rate_fen"] = int(r["rate"])
        line["work_days"].append(r["day"])
    for line in lines.values():
        if line["kind"] == "back_pay":
            months = sorted({d.strftime("%Y-%m") for d in line["work_days"]})
            line["note"] = f"补发 {'、'.join(months)} 未结算出勤 {line['days']} 天"
    return list(lines.values())


def by_worker(lines: list[dict[str, Any]]) -> dict[UUID, int]:
    """Attendance amount per worker over all kinds (what an entered payroll is compared with)."""
    total: dict[UUID, int] = defaultdict(int)
    for line in lines:
        total[line["worker"]] += line["amount_fen"]
    return total


async def claim(payroll_id: UUID, project_id: UUID, lines: list[dict[str, Any]]) -> int:
    """Settle the days the approved payroll pays (inside the approval's transaction); a day another payroll
    settled meanwhile makes this one stale: recompute it."""
    rows = [(line["worker"], d, line["kind"], line["daily_rate_fen"]) for line in lines for d in (line["work_days"] or [])]
    if not rows:
        return 0
    taken = await PayrollDay.raw(
        "SELECT day FROM payroll_days WHERE project = {} AND (worker, day) IN (SELECT * FROM unnest({}::uuid[], {}::date[]))",
        project_id, [r[0] for r in rows], [r[1] for r in rows])
    if taken:
        raise Conflict("PAYROLL_STALE", detail={"days": sorted(str(t["day"]) for t in taken)})
    await PayrollDay.insert(*[PayrollDay(payroll=payroll_id, worker=w, project=project_id, day=d, kind=k, rate_fen=r)
                              for w, d, k, r in rows])
    return len(rows)
