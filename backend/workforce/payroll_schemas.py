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
    kind: str = "regular"  # regular | back_pay (补发: owed days of earlier months)
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
