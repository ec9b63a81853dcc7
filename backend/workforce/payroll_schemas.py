"""Request and response types of payrolls (工资单)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from backend.schema import Schema

Month = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Fen = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_00)]


class EnteredLine(Schema):
    worker_id: UUID
    amount_fen: Fen
    days: Annotated[int, msgspec.Meta(ge=0, le=31)] = 0
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""


class PayrollCreate(Schema):
    project_id: UUID
    enterprise_id: UUID  # the labour subcontractor
    month: Month
    basis: Literal["attendance", "entered"] = "attendance"
    lines: Annotated[list[EnteredLine], msgspec.Meta(max_length=5000)] = []


class LinesIn(Schema):
    lines: Annotated[list[EnteredLine], msgspec.Meta(min_length=1, max_length=5000)]


class ApproveIn(Schema):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""  # required when entered amounts differ from attendance


class MyPayrollLine(Schema):
    """A worker's own line, as the mini-program shows it."""

    payroll_id: UUID
    project_id: UUID
    project_name: str
    month: str
    status: str
    kind: str
    days: int
    work_days: list[str]
    amount_fen: int
    paid_fen: int
    note: str


class PayrollLineOut(Schema):
    worker_id: UUID
    worker_name: str
    days: int
    daily_rate_fen: int
    amount_fen: int
    paid_fen: int
    note: str
    kind: str = "regular"  # regular | back_pay (补发: owed days of earlier months) | correction | clawback (更正)
    work_days: list[str] = []  # the local dates (YYYY-MM-DD) this line pays
    attendance_fen: int | None = None  # entered basis: what attendance gives
    difference_fen: int = 0  # entered − attendance; approval needs a reason when non-zero


class PayrollOut(Schema):
    id: UUID
    project_id: UUID
    enterprise_id: UUID
    month: str
    basis: str
    status: str
    paid_by: str | None
    payer_id: UUID | None
    hold_id: UUID | None
    total_fen: int
    lines: list[PayrollLineOut]
    created_at: datetime
    updated_at: datetime


class PayrollEventOut(Schema):
    action: str
    actor_id: UUID | None
    detail: dict[str, Any]
    at: datetime


class CorrectionIn(Schema):
    """A paid line corrected (工资更正): the days and / or the daily rate it should have paid, and why."""

    worker_id: UUID
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=500)]
    kind: Literal["regular", "back_pay"] = "regular"  # which of the worker's lines on the paid payroll
    days: Annotated[int, msgspec.Meta(ge=0, le=31)] | None = None
    daily_rate_fen: Annotated[int, msgspec.Meta(ge=0, le=10_000_00)] | None = None


class CorrectionOut(Schema):
    id: UUID
    payroll_id: UUID  # the paid payroll corrected
    worker_id: UUID
    days_before: int
    daily_rate_before_fen: int
    amount_before_fen: int
    days_after: int
    daily_rate_after_fen: int
    amount_after_fen: int
    difference_fen: int  # > 0 back pay (correction line), < 0 claw-back (clawback line, approved with a reason)
    reason: str
    status: str  # open | applied
    next_payroll_id: UUID | None
    applied_payroll_id: UUID | None
    created_by: UUID | None
    created_at: datetime
