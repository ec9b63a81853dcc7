"""Demo workforce history (seed-demo): a roster, a month of clock-ins, last month's payroll paid, a late clock.

The clock-in API refuses clocks more than 24 h old (rules.OFFLINE_LIMIT), so a month of history cannot be
made through HTTP; like the rest of backend/demo.py this writes the rows, through the same rules the API
uses (payroll_days.owed_lines / claim for the payroll). What happens next is demo_activity's, through
HTTP: this month's payroll with the late clock as a back-pay line, and two failed spot checks → a hold.
Idempotent: skipped when the first demo worker exists.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from backend.accounts.tables import User
from backend.db import utcnow
from backend.enterprises.tables import Enterprise
from backend.projects.tables import Project
from backend.settings import Settings
from backend.workforce import payroll_days
from backend.workforce.payroll import month_bounds
from backend.workforce.pii import cipher
from backend.workforce.rules import check_id_number
from backend.workforce.tables import (
    Clock,
    ClockReviewEvent,
    Payroll,
    PayrollEvent,
    PayrollLine,
    ProjectWorker,
    Worker,
)

PROJECT_PERMIT = "330302202603150101"  # 滨江商务区T05地块住宅项目: 温州安居劳务 is its labour subcontractor
LABOUR_USCC = "91330304MA2EF5G6HY"
GC_USCC = "91330303MA2CD3E4FR"
# name, ID number (valid GB 11643; the first one's region code is one python-stdnum does not list for 1982 —
# accepted and noted, issue 19), trade, daily rate in fen
WORKERS = [
    ("陈建国", "330302198204159518", "钢筋工", 38000),
    ("李秀英", "330302198306011231", "木工", 36000),
    ("王海峰", "11010519491231002X", "普工", 30000),
]


def _at(day: datetime, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day.date(), time(hour, minute), tz)


async def seed_workforce(settings: Settings) -> list[str]:
    """Write the demo's workforce history once; return summary lines."""
    c = cipher(settings)
    if await Worker.exists().where(Worker.id_number_hash == c.lookup(WORKERS[0][1], "id_number")):
        return []
    project = await Project.select(Project.id).where(Project.permit_no == PROJECT_PERMIT).first()
    labour = await Enterprise.select(Enterprise.id).where(Enterprise.uscc == LABOUR_USCC).first()
    gc = await Enterprise.select(Enterprise.id).where(Enterprise.uscc == GC_USCC).first()
    lead = await User.select(User.id).where(User.username == "lead_wang").first()
    if project is None or labour is None or gc is None or lead is None:
        return []
    pid, tz = project["id"], ZoneInfo(settings.TIMEZONE)
    now_local = utcnow().astimezone(tz)
    month = (now_local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    start, end = month_bounds(month, settings.TIMEZONE)
    entered = start - timedelta(days=3)
    worker_ids: list[UUID] = []
    for name, number, trade, rate in WORKERS:
        info = check_id_number(number, now_local.date())
        wid = uuid4()
        await Worker.insert(Worker(
            id=wid, name=name, id_number_enc=c.encrypt(info.number, "id_number"),
            id_number_hash=c.lookup(info.number, "id_number"), sex=info.sex, birth_date=info.birth_date,
            id_region_known=info.region_known, trade=trade, employer=labour["id"], contract_signed=True,
            registered_by=lead["id"]))
        await ProjectWorker.insert(ProjectWorker(project=pid, worker=wid, enterprise=labour["id"], trade=trade,
                                                 daily_rate_fen=rate, entered_at=entered, entered_by=lead["id"]))
        worker_ids.append(wid)
    # A month of clock-ins and -outs: every working day (Mon–Sat), one worker off on Sundays and one rest day.
    clocks = 0
    day = start
    while day < end:
        if day.weekday() < 6:
            for i, wid in enumerate(worker_ids):
                if i == 2 and day.day % 9 == 0:
                    continue
                for kind, hour in (("in", 7), ("out", 17)):
                    await Clock.insert(Clock(worker=wid, project=pid, kind=kind, at=_at(day, hour, 25 + i * 3, tz),
                                             received_at=_at(day, hour, 25 + i * 3, tz), lng=0.0, lat=0.0,
                                             coord_type="gcj02", device_id=f"demo-phone-{i}"))
                    clocks += 1
        day += timedelta(days=1)
    # Last month's payroll from attendance: approved by the GC, paid by the subcontractor.
    payroll_id = uuid4()
    lines = await payroll_days.owed_lines(pid, labour["id"], start.date(), end, settings.TIMEZONE)
    await Payroll.insert(Payroll(id=payroll_id, project=pid, enterprise=labour["id"], month=month, basis="attendance",
                                 status="paid", paid_by="subcontractor", payer=labour["id"],
                                 total_fen=sum(line["amount_fen"] for line in lines), created_by=lead["id"]))
    await PayrollLine.insert(*[PayrollLine(payroll=payroll_id, worker=line["worker"], days=line["days"],
                                           daily_rate_fen=line["daily_rate_fen"], amount_fen=line["amount_fen"],
                                           paid_fen=line["amount_fen"], kind=line["kind"], work_days=line["work_days"])
                               for line in lines])
    await payroll_days.claim(payroll_id, pid, lines)
    for action in ("created", "submit", "approve", "pay"):
        await PayrollEvent.insert(PayrollEvent(payroll=payroll_id, action=action, actor=lead["id"],
                                               detail=json.dumps({"demo": True}, ensure_ascii=False)))
    # After payment, a Sunday offline clock of last month arrives and the employer accepts it: owed, back pay.
    sunday = next(start + timedelta(days=d) for d in range(7) if (start + timedelta(days=d)).weekday() == 6)
    late_id = uuid4()
    await Clock.insert(Clock(id=late_id, worker=worker_ids[0], project=pid, kind="in", at=_at(sunday, 7, 40, tz),
                             received_at=_at(sunday, 7, 40, tz) + timedelta(hours=20), lng=0.0, lat=0.0,
                             coord_type="gcj02", offline=True, flags=["offline"], review_status="accepted",
                             reviewed_by=lead["id"], reviewed_at=utcnow(), review_reason="周日加班，工地无信号，班组长核实"))
    event: dict[str, Any] = {"clock": late_id, "action": "accept", "from_status": "pending", "to_status": "accepted",
                             "actor": lead["id"], "reason": "周日加班，工地无信号，班组长核实"}
    await ClockReviewEvent.insert(ClockReviewEvent(**event))
    # Demo coordinates: the project's own point, so the attendance map shows them on site.
    point = await Project.select(Project.lng, Project.lat).where(Project.id == pid).first()
    await Clock.update({Clock.lng: point["lng"], Clock.lat: point["lat"]}).where(Clock.project == pid)
    return [(f"workforce: {len(WORKERS)} workers on the T05 roster, {clocks + 1} clocks in {month}, its payroll paid, "
             "one late clock accepted after payment (back pay on this month's payroll)")]
