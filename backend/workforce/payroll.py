"""Monthly payroll (工资单) per labour subcontractor and project, through the dedicated wage account.

State machine (one ``transition()`` writes every PayrollEvent row):

    draft --submit--> submitted --approve--> approved --pay--> paid

- submit: the subcontractor (or the general contractor on its behalf while a hold is active);
- approve: the general contractor;
- pay: the subcontractor (paid_by=subcontractor) or the general contractor (paid_by=general_contractor,
  总包代发; the active hold's id is recorded).

While a quality hold is active on (project, subcontractor) every submit / approve / pay / create / edit
attempt of the subcontractor fails with PAYROLL_HELD and is audited as ``refused``; the general
contractor carries the payroll instead, so no worker loses pay (保障农民工工资支付条例).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis
from asyncpg.exceptions import UniqueViolationError

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.notifications import service as notifications
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings
from backend.workforce import holds, payroll_corrections, payroll_days
from backend.workforce.payroll_schemas import (
    CorrectionIn,
    CorrectionOut,
    EnteredLine,
    MyPayrollLine,
    PayrollCreate,
    PayrollEventOut,
    PayrollLineOut,
    PayrollOut,
)
from backend.workforce.tables import Payroll, PayrollEvent, PayrollLine, ProjectWorker, Worker

# action -> (from status, to status)
TRANSITIONS: dict[str, tuple[str, str]] = {
    "submit": ("draft", "submitted"),
    "approve": ("submitted", "approved"),
    "pay": ("approved", "paid"),
}
SUB, GC, STAFF = "subcontractor", "general_contractor", "staff"


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's in the local time zone (settings.TIMEZONE), aware."""
    year, mon, tz = int(month[:4]), int(month[5:7]), ZoneInfo(timezone)
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


async def _is_labour(project_id: UUID, enterprise_id: UUID) -> bool:
    return await ProjectParty.exists().where(
        (ProjectParty.project == project_id) & (ProjectParty.enterprise == enterprise_id)
        & (ProjectParty.role == "labour_subcontractor"))


async def _side(actor: Principal, project: dict[str, Any], enterprise_id: UUID, action: str = "read_payroll") -> str:
    """Who the actor is for this (project, subcontractor) payroll: subcontractor, GC or district staff (access
    policy read_payroll / keep_payroll)."""
    return await access_policy.payroll_side(actor, {"project": project, "enterprise": enterprise_id}, action)


async def _audit(payroll_id: UUID, action: str, actor: Principal, detail: dict[str, Any]) -> None:
    await PayrollEvent.insert(PayrollEvent(
        payroll=payroll_id, action=action, actor=actor.id if actor.kind == "user" else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str)))


async def _attendance_lines(project_id: UUID, enterprise_id: UUID, month: str, timezone: str) -> list[dict[str, Any]]:
    """Owed, unsettled days up to the month's end: the month's regular lines and earlier days' back pay."""
    start, end = month_bounds(month, timezone)
    return await payroll_days.owed_lines(project_id, enterprise_id, start.date(), end, timezone)


def _compare(entered: list[dict[str, Any]], attendance: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entered amounts checked against attendance: each line carries attendance_fen and difference_fen; a worker
    attendance owes but nobody entered gets a 0 line with the difference, so the approver sees it."""
    owed = payroll_days.by_worker(attendance)
    days: dict[UUID, list[Any]] = {}
    for line in attendance:
        days.setdefault(line["worker"], []).extend(line["work_days"])
    out = []
    for line in entered:
        fen = owed.get(line["worker"], 0)
        out.append({**line, "attendance_fen": fen, "difference_fen": line["amount_fen"] - fen,
                    "work_days": sorted(days.get(line["worker"], []))})
    for worker, fen in owed.items():
        if worker not in {line["worker"] for line in entered}:
            out.append({"worker": worker, "days": 0, "daily_rate_fen": 0, "amount_fen": 0, "attendance_fen": fen,
                        "difference_fen": -fen, "work_days": sorted(days[worker]), "note": "考勤应发未填报"})
    return out


async def _entered_lines(project_id: UUID, enterprise_id: UUID, entered: list[EnteredLine]) -> list[dict[str, Any]]:
    ids = list(dict.fromkeys(line.worker_id for line in entered))
    if len(ids) != len(entered):
        raise BadRequest("PAYROLL_DUPLICATE_WORKER")
    rostered = {r["worker"] for r in await ProjectWorker.select(ProjectWorker.worker).where(
        (ProjectWorker.project == project_id) & (ProjectWorker.enterprise == enterprise_id)
        & ProjectWorker.worker.is_in(ids))} if ids else set()
    stray = [str(i) for i in ids if i not in rostered]
    if stray:
        raise BadRequest("PAYROLL_WORKER_NOT_ON_ROSTER", detail={"worker_ids": stray})
    return [{"worker": line.worker_id, "days": line.days, "daily_rate_fen": 0, "amount_fen": line.amount_fen,
             "note": line.note} for line in entered]


async def _row(payroll_id: UUID) -> dict[str, Any]:
    row = await Payroll.select().where(Payroll.id == payroll_id).first()
    if row is None:
        raise NotFound("PAYROLL_NOT_FOUND")
    return row


async def _out(payroll_id: UUID) -> PayrollOut:
    row = await _row(payroll_id)
    lines = await PayrollLine.select(*PayrollLine.all_columns(), PayrollLine.worker.name.as_alias("worker_name")).where(
        PayrollLine.payroll == payroll_id).order_by(PayrollLine.worker.name).order_by(PayrollLine.kind, ascending=False)
    return PayrollOut(
        id=row["id"], project_id=row["project"], enterprise_id=row["enterprise"], month=row["month"], basis=row["basis"],
        status=row["status"], paid_by=row["paid_by"], payer_id=row["payer"], hold_id=row["hold"], total_fen=row["total_fen"],
        lines=[PayrollLineOut(worker_id=r["worker"], worker_name=r["worker_name"], days=r["days"],
                              daily_rate_fen=r["daily_rate_fen"], amount_fen=r["amount_fen"], paid_fen=r["paid_fen"],
                              note=r["note"], kind=r["kind"], work_days=[d.isoformat() for d in r["work_days"] or []],
                              attendance_fen=r["attendance_fen"], difference_fen=r["difference_fen"]) for r in lines],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


async def _write_lines(payroll_id: UUID, lines: list[dict[str, Any]]) -> int:
    await PayrollLine.delete().where(PayrollLine.payroll == payroll_id)
    if lines:
        await PayrollLine.insert(*[PayrollLine(
            payroll=payroll_id, worker=line["worker"], days=line["days"], daily_rate_fen=line["daily_rate_fen"],
            amount_fen=line["amount_fen"], note=line.get("note", ""), kind=line.get("kind", "regular"),
            work_days=line.get("work_days", []), attendance_fen=line.get("attendance_fen"),
            difference_fen=line.get("difference_fen", 0)) for line in lines])
    total = sum(line["amount_fen"] for line in lines)
    await Payroll.update({Payroll.total_fen: total, Payroll.updated_at: utcnow()}).where(Payroll.id == payroll_id)
    return total


async def _computed(settings: Settings, project_id: UUID, enterprise_id: UUID, month: str, basis: str,
                    entered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    attendance = await _attendance_lines(project_id, enterprise_id, month, settings.TIMEZONE)
    return attendance if basis == "attendance" else _compare(entered, attendance)


async def recompute(settings: Settings, actor: Principal, payroll_id: UUID) -> PayrollOut:
    """Compute a draft or submitted payroll again from attendance (until it is approved): late clocks, accepted
    reviews and corrections are in; an entered payroll's amounts are compared again."""
    row = await _row(payroll_id)
    project = await projects_service.get_project_row(row["project"])
    side = await _side(actor, project, row["enterprise"], "keep_payroll")
    await _refuse_if_held(actor, row, side, "recompute")
    async with Payroll._meta.db.transaction():
        locked = await Payroll.raw("SELECT status FROM payrolls WHERE id = {} FOR UPDATE", payroll_id)
        if locked[0]["status"] not in ("draft", "submitted"):
            raise Conflict("PAYROLL_BAD_STATE", detail={"status": locked[0]["status"], "action": "recompute"})
        entered = await _entered_of(payroll_id) if row["basis"] == "entered" else []
        lines = await _computed(settings, row["project"], row["enterprise"], row["month"], row["basis"], entered)
        lines += await payroll_corrections.lines_for(payroll_id, row["project"], row["enterprise"], row["month"])
        before = row["total_fen"]
        total = await _write_lines(payroll_id, lines)
        await _audit(payroll_id, "recomputed", actor, {"by": side, "from_fen": before, "total_fen": total})
    return await _out(payroll_id)


async def _entered_of(payroll_id: UUID) -> list[dict[str, Any]]:
    rows = await PayrollLine.select().where((PayrollLine.payroll == payroll_id) & (PayrollLine.note != "考勤应发未填报")
                                            & (PayrollLine.kind == "regular"))
    return [{"worker": r["worker"], "days": r["days"], "daily_rate_fen": 0, "amount_fen": r["amount_fen"],
             "note": r["note"]} for r in rows]


async def _line_rows(payroll_id: UUID) -> list[dict[str, Any]]:
    return await PayrollLine.select().where(PayrollLine.payroll == payroll_id)


async def create(settings: Settings, actor: Principal, data: PayrollCreate) -> PayrollOut:
    """The month's payroll from attendance or entered amounts: the subcontractor, or the GC (always allowed)."""
    project = await projects_service.get_project_row(data.project_id)
    side = await _side(actor, project, data.enterprise_id, "keep_payroll")
    if not await _is_labour(data.project_id, data.enterprise_id):
        raise BadRequest("NOT_PROJECT_SUBCONTRACTOR", detail={"enterprise_ids": [str(data.enterprise_id)]})
    hold = await holds.active_hold(data.project_id, data.enterprise_id)
    if side == SUB and hold is not None:
        await holds.audit(hold, "refused", actor.id, {"attempt": "payroll_create", "month": data.month, "code": "PAYROLL_HELD"})
        raise Forbidden("PAYROLL_HELD", detail={"hold_id": str(hold)})
    if data.month > utcnow().astimezone(ZoneInfo(settings.TIMEZONE)).strftime("%Y-%m"):
        raise BadRequest("VALIDATION_ERROR", detail="month is in the future")
    if data.basis == "attendance":
        if data.lines:
            raise BadRequest("VALIDATION_ERROR", detail="lines are computed from attendance")
        lines = await _computed(settings, data.project_id, data.enterprise_id, data.month, "attendance", [])
    else:
        lines = await _computed(settings, data.project_id, data.enterprise_id, data.month, "entered",
                                await _entered_lines(data.project_id, data.enterprise_id, data.lines))
    payroll_id = uuid4()
    try:
        async with Payroll._meta.db.transaction():
            await Payroll.insert(Payroll(id=payroll_id, project=data.project_id, enterprise=data.enterprise_id,
                                         month=data.month, basis=data.basis, created_by=actor.id))
            lines += await payroll_corrections.lines_for(payroll_id, data.project_id, data.enterprise_id, data.month)
            total = await _write_lines(payroll_id, lines)
            await _audit(payroll_id, "created", actor, {"basis": data.basis, "by": side, "total_fen": total,
                                                        "hold": str(hold) if hold else None})
    except UniqueViolationError as exc:
        raise Conflict("PAYROLL_EXISTS") from exc
    return await _out(payroll_id)


async def edit_lines(settings: Settings, actor: Principal, payroll_id: UUID, entered: list[EnteredLine]) -> PayrollOut:
    """Replace the lines of a draft (amounts entered); the subcontractor (not held) or the GC."""
    row = await _row(payroll_id)
    project = await projects_service.get_project_row(row["project"])
    side = await _side(actor, project, row["enterprise"], "keep_payroll")
    await _refuse_if_held(actor, row, side, "edit")
    lines = await _entered_lines(row["project"], row["enterprise"], entered)
    async with Payroll._meta.db.transaction():
        locked = await Payroll.raw("SELECT status FROM payrolls WHERE id = {} FOR UPDATE", payroll_id)
        if locked[0]["status"] != "draft":
            raise Conflict("PAYROLL_NOT_DRAFT")
        await Payroll.update({Payroll.basis: "entered"}).where(Payroll.id == payroll_id)
        lines = await _computed(settings, row["project"], row["enterprise"], row["month"], "entered", lines)
        lines += await payroll_corrections.lines_for(payroll_id, row["project"], row["enterprise"], row["month"])
        total = await _write_lines(payroll_id, lines)
        await _audit(payroll_id, "edited", actor, {"by": side, "total_fen": total})
    return await _out(payroll_id)


async def _refuse_if_held(actor: Principal, row: dict[str, Any], side: str, attempt: str) -> UUID | None:
    hold = await holds.active_hold(row["project"], row["enterprise"])
    if side == SUB and hold is not None:
        await _audit(row["id"], "refused", actor, {"attempt": attempt, "code": "PAYROLL_HELD", "hold": str(hold)})
        await holds.audit(hold, "refused", actor.id, {"attempt": f"payroll_{attempt}", "payroll": row["id"], "code": "PAYROLL_HELD"})
        raise Forbidden("PAYROLL_HELD", detail={"hold_id": str(hold)})
    return hold


async def transition(settings: Settings, arq: ArqRedis | None, actor: Principal, payroll_id: UUID, action: str,
                     reason: str = "") -> PayrollOut:
    """The one way a payroll's status changes; every step (and every refusal for a hold) is a PayrollEvent.

    Approving settles the days the payroll pays (``payroll_days.claim``); entered amounts that differ from
    attendance are approved only with a reason, which the trail keeps.
    """
    if action not in TRANSITIONS:
        raise BadRequest("VALIDATION_ERROR", detail={"action": action})
    row = await _row(payroll_id)
    project = await projects_service.get_project_row(row["project"])
    side = await _side(actor, project, row["enterprise"], "keep_payroll")
    hold = await _refuse_if_held(actor, row, side, action)
    access_policy.require(actor, "payroll_step", {"step": action, "side": side, "held": hold is not None})
    source, target = TRANSITIONS[action]
    values: dict[Any, Any] = {Payroll.status: target, Payroll.updated_at: utcnow()}
    detail: dict[str, Any] = {"from": source, "to": target, "by": side}
    if action == "pay":
        payer = actor.enterprise_id
        values.update({Payroll.paid_by: side, Payroll.payer: payer, Payroll.hold: hold if side == GC else None})
        detail.update({"paid_by": side, "payer": str(payer), "hold": str(hold) if hold else None})
    held_now = False
    async with Payroll._meta.db.transaction():
        # The lock spot checks take when they start a hold: no hold can begin between the check above and this.
        await Payroll.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"spotcheck:{row['project']}")
        if side == SUB and await holds.active_hold(row["project"], row["enterprise"]) is not None:
            held_now = True
        else:
            updated = await Payroll.update(values).where(
                (Payroll.id == payroll_id) & (Payroll.status == source)).returning(Payroll.id)
            if not updated:
                raise Conflict("PAYROLL_BAD_STATE", detail={"status": row["status"], "action": action})
            if action == "approve":
                lines = await _line_rows(payroll_id)
                differences = [line for line in lines if line["difference_fen"]]
                if differences and not reason.strip():
                    raise BadRequest("PAYROLL_DIFFERENCES_NEED_REASON", detail={
                        "workers": [str(line["worker"]) for line in differences]})
                settled = await payroll_days.claim(payroll_id, row["project"], lines)
                detail.update({"days_settled": settled, "differences": len(differences), "reason": reason.strip(),
                               "corrections_applied": await payroll_corrections.apply(payroll_id)})
            if action == "pay":
                await PayrollLine.raw("UPDATE payroll_lines SET paid_fen = amount_fen WHERE payroll = {}", payroll_id)
            await _audit(payroll_id, action, actor, detail)
            if side == GC and hold is not None:  # the GC carrying a held subcontractor's payroll: on the hold's trail too
                await holds.audit(hold, f"payroll_{action}", actor.id, {"payroll": payroll_id, "month": row["month"]})
            if action == "pay":  # outbox rows of the paying transaction
                await _tell_paid(settings, arq, payroll_id)
    if held_now:  # audited outside the transaction, so the refusal stays in the trail
        await _refuse_if_held(actor, row, side, action)
    return await _out(payroll_id)


async def _tell_paid(settings: Settings, arq: ArqRedis | None, payroll_id: UUID) -> None:
    row = await _row(payroll_id)
    project = await projects_service.get_project_row(row["project"])
    lines = await PayrollLine.select(PayrollLine.amount_fen, PayrollLine.worker.user.as_alias("user")).where(
        (PayrollLine.payroll == payroll_id) & PayrollLine.worker.user.is_not_null())
    paid: dict[UUID, int] = {}
    for line in lines:  # one notice per worker: the sum of their lines (regular, back pay, corrections)
        paid[line["user"]] = paid.get(line["user"], 0) + line["amount_fen"]
    for user, fen in paid.items():
        if fen <= 0:  # nothing released to this worker (a claw-back ate it): no "wages paid" notice
            continue
        line = {"user": user, "amount_fen": fen}
        await notifications.notify(
            [line["user"]], "wage_paid",
            {"project": project["name"], "month": row["month"], "amount": f"{line['amount_fen'] / 100:.2f}元"},
            dedup_key=f"payroll:{payroll_id}:paid:{line['user']}", settings=settings, arq=arq,
            subject=("payroll", str(payroll_id)))


async def get(actor: Principal, payroll_id: UUID) -> PayrollOut:
    row = await _row(payroll_id)
    await _side(actor, await projects_service.get_project_row(row["project"]), row["enterprise"])
    return await _out(payroll_id)


async def events(actor: Principal, payroll_id: UUID) -> list[PayrollEventOut]:
    row = await _row(payroll_id)
    await _side(actor, await projects_service.get_project_row(row["project"]), row["enterprise"])
    rows = await PayrollEvent.select().where(PayrollEvent.payroll == payroll_id).order_by(PayrollEvent.at).output(
        load_json=True)
    return [PayrollEventOut(action=r["action"], actor_id=r["actor"],
                            detail=r["detail"], at=r["at"])
            for r in rows]


async def list_for(actor: Principal, project_id: UUID, month: str | None) -> list[PayrollOut]:
    """Staff of the district and the project's GC see all; a subcontractor its own."""
    project = await projects_service.get_project_row(project_id)
    query = Payroll.select(Payroll.id).where(Payroll.project == project_id)
    own = await access_policy.payroll_scope(actor, project)
    if own is not None:
        query = query.where(Payroll.enterprise == own)
    if month:
        query = query.where(Payroll.month == month)
    return [await _out(r["id"]) for r in await query.order_by(Payroll.month)]




async def my_lines(actor: Principal, limit: int = 60) -> list[MyPayrollLine]:
    """A worker's own payroll lines (regular and back pay), newest month first: the mini-program's wage page."""
    access_policy.require(actor, "worker", {})
    worker = await Worker.select(Worker.id).where(Worker.user == actor.id).first()
    if worker is None:
        raise Forbidden("NOT_A_WORKER")
    rows = await PayrollLine.select(
        *PayrollLine.all_columns(), PayrollLine.payroll.month.as_alias("month"),
        PayrollLine.payroll.status.as_alias("status"), PayrollLine.payroll.project.as_alias("project"),
        PayrollLine.payroll.project.name.as_alias("project_name"),
    ).where(PayrollLine.worker == worker["id"]).order_by(PayrollLine.payroll.month, ascending=False).limit(
        min(max(limit, 1), 200))
    return [MyPayrollLine(payroll_id=r["payroll"], project_id=r["project"], project_name=r["project_name"],
                          month=r["month"], status=r["status"], kind=r["kind"], days=r["days"],
                          work_days=[d.isoformat() for d in r["work_days"] or []], amount_fen=r["amount_fen"],
                          paid_fen=r["paid_fen"], note=r["note"]) for r in rows]


async def correct(actor: Principal, payroll_id: UUID, data: CorrectionIn) -> CorrectionOut:
    """工资更正 of a paid line by its employer (the subcontractor, unless held) or the general contractor: the
    difference becomes a back-pay or claw-back line of the next payroll (``payroll_corrections``); audited."""
    row = await _row(payroll_id)
    project = await projects_service.get_project_row(row["project"])
    side = await _side(actor, project, row["enterprise"], "keep_payroll")
    await _refuse_if_held(actor, row, side, "correct")
    async with Payroll._meta.db.transaction():
        await Payroll.raw("SELECT id FROM payrolls WHERE id = {} FOR UPDATE", payroll_id)  # corrections take turns
        out, audit = await payroll_corrections.record(actor, row, side, data)
        await _audit(payroll_id, "corrected", actor, audit)
    return out


async def corrections(actor: Principal, payroll_id: UUID) -> list[CorrectionOut]:
    """The corrections of a paid payroll, or those a later payroll carries: for the payroll's readers."""
    row = await _row(payroll_id)
    await _side(actor, await projects_service.get_project_row(row["project"]), row["enterprise"])
    return await payroll_corrections.list_for(payroll_id)
