"""Review of flagged clocks (考勤异常审核): the employer or the general contractor accepts or rejects, with a reason.

    none                      (nothing to review: paid as it is)
    pending --accept--> accepted   (paid: counted by the payroll, as back pay when its month was already approved)
    pending --reject--> rejected   (never paid; kept, with the reason)

A clock is pending when ``rules.clock_flags`` names a reason (offline, outside_tolerance, before_entry,
selfie_reused, coord_mismatch, coord_unverified, coord_type_changed). ``transition()`` is the one way the
status changes and writes a ClockReviewEvent in the same transaction. Who: a lead of the worker's employing
subcontractor on that project, or of the project's general contractor (保障农民工工资支付条例: the employer keeps
the attendance, the GC answers for the wages); district staff may read the list.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.projects import service as projects_service
from backend.workforce import roster
from backend.workforce.attendance import out
from backend.workforce.schemas import ClockOut, ClockReviewIn
from backend.workforce.tables import Clock, ClockReviewEvent, ProjectWorker

# action -> (from status, to status)
TRANSITIONS: dict[str, tuple[str, str]] = {
    "accept": ("pending", "accepted"),
    "reject": ("pending", "rejected"),
}
PAYABLE = ("none", "accepted")  # the review statuses a payroll counts


async def _employer(clock: dict[str, Any]) -> UUID | None:
    """The subcontractor whose stint the clock falls in (the latest stint entered before it, else any)."""
    stint = await ProjectWorker.select(ProjectWorker.enterprise).where(
        (ProjectWorker.project == clock["project"]) & (ProjectWorker.worker == clock["worker"])
    ).order_by(ProjectWorker.entered_at, ascending=False).first()
    return stint["enterprise"] if stint else None


async def flagged(actor: Principal, project_id: UUID, status: str = "pending") -> list[ClockOut]:
    """A project's clocks in one review status, oldest first; a subcontractor's lead sees its own workers'."""
    if status not in ("pending", "accepted", "rejected"):
        raise BadRequest("VALIDATION_ERROR", detail={"status": status})
    seen = await roster.scope(actor, project_id)
    query = Clock.select().where((Clock.project == project_id) & (Clock.review_status == status)).order_by(Clock.at)
    if seen is not None:
        workers = await ProjectWorker.select(ProjectWorker.worker).where(
            (ProjectWorker.project == project_id) & (ProjectWorker.enterprise == seen))
        query = query.where(Clock.worker.is_in([r["worker"] for r in workers] or [UUID(int=0)]))
    return [out(r) for r in await query.limit(1000)]


async def transition(clock_id: UUID, action: str, actor: Principal, reason: str) -> None:
    """The one way a clock's review status changes (inside a transaction): the change and its event row."""
    source, target = TRANSITIONS[action]
    done = await Clock.update({
        Clock.review_status: target, Clock.reviewed_by: actor.id, Clock.reviewed_at: utcnow(),
        Clock.review_reason: reason,
    }).where((Clock.id == clock_id) & (Clock.review_status == source)).returning(Clock.id)
    if not done:
        raise Conflict("CLOCK_NOT_FLAGGED")
    await ClockReviewEvent.insert(ClockReviewEvent(clock=clock_id, action=action, from_status=source, to_status=target,
                                                   actor=actor.id, reason=reason))


async def review(actor: Principal, clock_id: UUID, data: ClockReviewIn) -> ClockOut:
    """Accept (paid) or reject (never paid) a flagged clock: the employer's or the GC's lead, with a reason."""
    clock = await Clock.select().where(Clock.id == clock_id).first()
    if clock is None:
        raise NotFound("CLOCK_NOT_FOUND")
    await access_policy.check(actor, "review_clock", {
        "project": await projects_service.get_project_row(clock["project"]), "employer": await _employer(clock)})
    reason = data.reason.strip()
    if len(reason) < 2:
        raise BadRequest("REVIEW_REASON_REQUIRED")
    async with Clock._meta.db.transaction():
        await transition(clock_id, "accept" if data.accept else "reject", actor, reason)
    return out(await Clock.select().where(Clock.id == clock_id).first())
