"""Corrections after payment (工资更正): a paid line's days or rate corrected with a reason, settled on the next payroll.

A paid payroll is never edited: the employer (the labour subcontractor) or the general contractor records a
correction of one paid line — the days and / or the daily rate it should have paid, and why. The difference
(after − before, before being the line as paid or as last corrected) becomes a line of the subcontractor's next
payroll of a later month on the same project, while that payroll is still a draft or submitted:

- more owed: a ``correction`` line (补发), paid like any line;
- less owed: a ``clawback`` line (扣回, negative amount) whose ``difference_fen`` is its amount, so the general
  contractor can approve the payroll only with a reason (``PAYROLL_DIFFERENCES_NEED_REASON``): flagged for approval.

Each correction is audited on the corrected payroll's trail (``corrected``) and, when the payroll carrying it is
approved, marked ``applied`` there (``corrections_applied``) — so nothing a worker is owed falls out of every payroll
and nothing is paid twice (保障农民工工资支付条例 第三条, 第十五条: the wage ledger keeps every change).
A correction moves money only: the attendance ledger (``payroll_days``) of the paid days is left as it was.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from backend.auth.principal import Principal
from backend.errors import BadRequest, Conflict, NotFound
from backend.workforce.payroll_schemas import CorrectionIn, CorrectionOut
from backend.workforce.tables import PayrollCorrection, PayrollLine

CORRECTION, CLAWBACK = "correction", "clawback"


def _out(r: dict[str, Any]) -> CorrectionOut:
    return CorrectionOut(
        id=r["id"], payroll_id=r["payroll"], worker_id=r["worker"], days_before=r["days_before"],
        daily_rate_before_fen=r["rate_before_fen"], amount_before_fen=r["amount_before_fen"], days_after=r["days_after"],
        daily_rate_after_fen=r["rate_after_fen"], amount_after_fen=r["amount_after_fen"],
        difference_fen=r["difference_fen"], reason=r["reason"], status=r["status"], next_payroll_id=r["next_payroll"],
        applied_payroll_id=r["applied_payroll"], created_by=r["created_by"], created_at=r["created_at"])


async def record(actor: Principal, row: dict[str, Any], side: str, data: CorrectionIn) -> tuple[CorrectionOut, dict]:
    """Write one correction of the paid payroll ``row`` (inside the caller's transaction); returns it and its audit."""
    if row["status"] != "paid":
        raise Conflict("PAYROLL_NOT_PAID", detail={"status": row["status"]})
    line = await PayrollLine.select().where(
        (PayrollLine.payroll == row["id"]) & (PayrollLine.worker == data.worker_id) & (PayrollLine.kind == data.kind)
    ).first()
    if line is None:
        raise NotFound("PAYROLL_LINE_NOT_FOUND", detail={"worker_id": str(data.worker_id), "kind": data.kind})
    if line["kind"] in (CORRECTION, CLAWBACK):
        raise BadRequest("PAYROLL_CORRECTION_OF_CORRECTION")  # correct the original line instead
    last = await PayrollCorrection.select().where(PayrollCorrection.line == line["id"]).order_by(
        PayrollCorrection.created_at, ascending=False).first()
    before = ((last["days_after"], last["rate_after_fen"], last["amount_after_fen"]) if last is not None
              else (line["days"], line["daily_rate_fen"], line["paid_fen"]))
    days = before[0] if data.days is None else data.days
    rate = before[1] if data.daily_rate_fen is None else data.daily_rate_fen
    if days > 0 and rate <= 0:  # an entered line carries no rate: say what a day is worth
        raise BadRequest("PAYROLL_CORRECTION_RATE_REQUIRED")
    amount = days * rate
    if amount == before[2]:  # nothing to pay or take back
        raise BadRequest("PAYROLL_CORRECTION_NO_CHANGE", detail={"amount_fen": amount})
    correction = {
        "id": uuid4(), "payroll": row["id"], "line": line["id"], "worker": data.worker_id, "project": row["project"],
        "enterprise": row["enterprise"], "days_before": before[0], "rate_before_fen": before[1],
        "amount_before_fen": before[2], "days_after": days, "rate_after_fen": rate, "amount_after_fen": amount,
        "difference_fen": amount - before[2], "reason": data.reason.strip(), "status": "open",
        "next_payroll": None, "applied_payroll": None, "created_by": actor.id if actor.kind == "user" else None,
    }
    await PayrollCorrection.insert(PayrollCorrection(**correction))
    stored = await PayrollCorrection.select().where(PayrollCorrection.id == correction["id"]).first()
    audit = {"by": side, "correction": str(correction["id"]), "worker": str(data.worker_id), "line_kind": data.kind,
             "days": [before[0], days], "daily_rate_fen": [before[1], rate], "difference_fen": amount - before[2],
             "reason": correction["reason"]}
    return _out(stored), audit


async def lines_for(payroll_id: UUID, project_id: UUID, enterprise_id: UUID, month: str) -> list[dict[str, Any]]:
    """The open corrections of earlier months' paid payrolls, taken by this unapproved payroll (inside its
    transaction), as one net line per worker: ``correction`` (more owed) or ``clawback`` (less)."""
    await PayrollCorrection.raw("UPDATE payroll_corrections SET next_payroll = NULL WHERE next_payroll = {}"
                                " AND status = 'open'", payroll_id)
    taken = await PayrollCorrection.raw(
        "UPDATE payroll_corrections c SET next_payroll = {} FROM payrolls p"
        " WHERE p.id = c.payroll AND c.status = 'open' AND c.next_payroll IS NULL AND c.project = {}"
        " AND c.enterprise = {} AND p.month < {} RETURNING c.worker, c.difference_fen, p.month",
        payroll_id, project_id, enterprise_id, month)
    net: dict[UUID, dict[str, Any]] = {}
    for t in taken:
        entry = net.setdefault(t["worker"], {"fen": 0, "months": set(), "n": 0})
        entry["fen"] += int(t["difference_fen"])
        entry["months"].add(t["month"])
        entry["n"] += 1
    lines = []
    for worker, e in net.items():
        if e["fen"] == 0:
            continue
        kind = CORRECTION if e["fen"] > 0 else CLAWBACK
        months = "、".join(sorted(e["months"]))
        lines.append({
            "worker": worker, "kind": kind, "days": 0, "daily_rate_fen": 0, "amount_fen": e["fen"], "work_days": [],
            "difference_fen": e["fen"] if kind == CLAWBACK else 0,  # a claw-back is approved only with a reason
            "note": f"{'更正补发' if kind == CORRECTION else '更正扣回（须审批）'} {months} 已发工资（{e['n']} 项更正）"})
    return lines


async def apply(payroll_id: UUID) -> int:
    """The payroll carrying them is approved: its corrections are settled (inside the approval's transaction)."""
    rows = await PayrollCorrection.raw(
        "UPDATE payroll_corrections SET status = 'applied', applied_payroll = next_payroll"
        " WHERE next_payroll = {} AND status = 'open' RETURNING id", payroll_id)
    return len(rows)


async def list_for(payroll_id: UUID) -> list[CorrectionOut]:
    """The corrections of a paid payroll and those a later payroll carries, oldest first."""
    rows = await PayrollCorrection.select().where(
        (PayrollCorrection.payroll == payroll_id) | (PayrollCorrection.next_payroll == payroll_id)
        | (PayrollCorrection.applied_payroll == payroll_id)).order_by(PayrollCorrection.created_at)
    return [_out(r) for r in rows]

