"""The SLA clock's timers (时限提醒) on the durable timer service (backend/timers/, kind ``complaint_sla``).

Each stage of a clock is one timer, key ``{complaint}:{stage}:{clock}`` (clock = the complaint's
``reopen_count``: a reopen starts a new clock with new keys). Pausing cancels the clock's live stages;
resuming schedules the stages again with the pause added — a stage that fired stays fired (the timer
service never re-schedules a fired key), so a reminder or a breach is never sent twice. Resolving,
rejecting, merging and confirming cancel; resolving schedules the auto-close.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.complaints.rules import sla_schedule
from backend.timers import service as timers

KIND = "complaint_sla"


def _key(complaint_id: UUID | str, stage: str, clock: int) -> str:
    return f"{complaint_id}:{stage}:{clock}"


def _payload(row: dict[str, Any], stage: str) -> dict[str, Any]:
    return {"complaint": str(row["id"]), "stage": stage, "clock": row["reopen_count"]}


async def create_timers(row: dict[str, Any]) -> int:
    """Schedule (or move) the stages of the complaint's current clock, in the caller's transaction.

    Stages that already fired in this clock are left as they are. Returns how many are scheduled.
    """
    schedule = sla_schedule(row["clock_started_at"], row["sla_seconds"], row["paused_total_s"])
    return await timers.schedule_many(
        KIND, [(_key(row["id"], d.stage, row["reopen_count"]), d.at, _payload(row, d.stage)) for d in schedule]
    )


async def create_autoclose(row: dict[str, Any], at: datetime) -> None:
    await timers.schedule(KIND, _key(row["id"], "autoclose", row["reopen_count"]), at, _payload(row, "autoclose"))


async def cancel_timers(complaint_id: UUID) -> int:
    """Cancel every live timer of the complaint (stages, auto-close), in the caller's transaction."""
    return await timers.cancel(KIND, prefix=f"{complaint_id}:")
