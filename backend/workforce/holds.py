"""Quality holds (质量暂停): the state machine, its audit trail (QualityHoldEvent) and who is told.

    (none) --place--> active --lift--> lifted

- place: exactly on the second failed spot check running (``spotchecks.record``), one hold per answerable
  labour subcontractor, in the spot check's transaction;
- lift: an inspector or admin of the project's district, with a reason, and only once a passing
  re-inspection of one of the hold's failed checks exists.

``transition()`` is the one way the status changes, and writes the event row in the same transaction.
Steps that do not change the status are audited too: ``notified`` (subcontractor, GC, leads, station),
``workers_told`` (wages not affected), ``reinspection_passed``, ``lift_requested`` (the subcontractor or
the GC asks the station to re-inspect), ``refused`` (a lift without the re-inspection) and the GC carrying
the held subcontractor's payroll (``payroll_submit`` / ``payroll_approve`` / ``payroll_pay``).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.credit import service as credit_service
from backend.db import utcnow
from backend.errors import Conflict, NotFound
from backend.notifications import service as notifications
from backend.projects import service as projects_service
from backend.projects.tables import ProjectLead
from backend.settings import Settings
from backend.workforce.schemas import HoldEventOut, HoldOut
from backend.workforce.tables import ProjectWorker, QualityHold, QualityHoldEvent, SpotCheck

# action -> (from status, to status, event written)
TRANSITIONS: dict[str, tuple[str | None, str, str]] = {
    "place": (None, "active", "placed"),
    "lift": ("active", "lifted", "lifted"),
}


async def audit(hold_id: UUID, action: str, actor_id: UUID | None, detail: dict[str, Any]) -> None:
    """One event row of a hold's trail (inside the caller's transaction where there is one)."""
    await QualityHoldEvent.insert(QualityHoldEvent(
        hold=hold_id, action=action, actor=actor_id, detail=json.dumps(detail, ensure_ascii=False, default=str)))


async def transition(action: str, actor_id: UUID | None, detail: dict[str, Any], *, hold_id: UUID | None = None,
                     new: dict[str, Any] | None = None, values: dict[Any, Any] | None = None) -> UUID:
    """The one way a hold's status changes (call inside a transaction): the change and its event row together."""
    source, target, event = TRANSITIONS[action]
    if source is None:
        hold_id = uuid4()
        await QualityHold.insert(QualityHold(id=hold_id, status=target, **(new or {})))
    else:
        done = await QualityHold.update({QualityHold.status: target, **(values or {})}).where(
            (QualityHold.id == hold_id) & (QualityHold.status == source)).returning(QualityHold.id)
        if not done:
            raise Conflict("HOLD_NOT_ACTIVE")
    assert hold_id is not None
    await audit(hold_id, event, actor_id, {"from": source, "to": target, **detail})
    return hold_id


async def active_hold(project_id: UUID, enterprise_id: UUID) -> UUID | None:
    """The hold in force on (project, subcontractor), if any."""
    row = await QualityHold.select(QualityHold.id).where(
        (QualityHold.project == project_id) & (QualityHold.enterprise == enterprise_id) & (QualityHold.status == "active")
    ).first()
    return row["id"] if row else None


async def place(settings: Settings, arq: ArqRedis | None, actor: Principal, project_id: UUID, enterprise_id: UUID,
                evidence: list[UUID]) -> UUID | None:
    """Hold a subcontractor (inside the spot check's transaction); None if a hold is already in force."""
    if await active_hold(project_id, enterprise_id) is not None:
        return None
    hold_id = await transition("place", actor.id, {"evidence": evidence, "reason": "连续两次抽查不合格"},
                               new={"project": project_id, "enterprise": enterprise_id, "evidence": evidence})
    await credit_service.record_event(
        enterprise_id, "quality_hold", f"quality_hold:{hold_id}", settings=settings, arq=arq,
        project_id=project_id, recorded_by=actor.id, note="连续两次抽查不合格")
    return hold_id


async def note_reinspection(project_id: UUID, check_id: UUID, reinspection_of: UUID, actor_id: UUID) -> None:
    """A passing re-inspection of a held check: audited on each active hold it answers (same transaction)."""
    rows = await QualityHold.raw(
        "SELECT id FROM quality_holds WHERE project = {} AND status = 'active' AND {} = ANY(evidence)",
        project_id, reinspection_of)
    for r in rows:
        await audit(r["id"], "reinspection_passed", actor_id, {"spot_check": check_id, "reinspection_of": reinspection_of})


async def hold_row(hold_id: UUID) -> dict[str, Any]:
    row = await QualityHold.select(
        *QualityHold.all_columns(), QualityHold.enterprise.name.as_alias("enterprise_name"),
        QualityHold.project.name.as_alias("project_name"), QualityHold.project.district.as_alias("district"),
    ).where(QualityHold.id == hold_id).first()
    if row is None:
        raise NotFound("HOLD_NOT_FOUND")
    return row


def hold_out(row: dict[str, Any]) -> HoldOut:
    return HoldOut(
        id=row["id"], project_id=row["project"], enterprise_id=row["enterprise"], enterprise_name=row["enterprise_name"],
        status=row["status"], evidence=list(row["evidence"]), started_at=row["started_at"], lifted_at=row["lifted_at"],
        lift_reason=row["lift_reason"],
    )


async def _station(district: int | None) -> list[UUID]:
    rows = await User.select(User.id).where(
        User.role.is_in([Role.REGULATOR_ADMIN.value, Role.INSPECTOR.value]) & (User.district == district)
        & User.is_active.eq(True))
    return [r["id"] for r in rows]


async def announce(settings: Settings, arq: ArqRedis | None, actor_id: UUID | None, hold_id: UUID, action: str,
                   reason: str) -> None:
    """The subcontractor, the general contractor, the project leads and the station are told; audited."""
    row = await hold_row(hold_id)
    gc = await projects_service.general_contractor_ids(row["project"])
    enterprise_users = await User.select(User.id).where(
        User.enterprise.is_in([row["enterprise"], *gc]) & User.is_active.eq(True))
    leads = await ProjectLead.select(ProjectLead.user).where(ProjectLead.project == row["project"])
    people = list(dict.fromkeys([u["id"] for u in enterprise_users] + [lead["user"] for lead in leads]
                                + await _station(row["district"])))
    await notifications.notify(
        people, "quality_hold",
        {"project": row["project_name"], "enterprise": row["enterprise_name"], "action": action, "reason": reason},
        dedup_key=f"hold:{hold_id}:{action}", settings=settings, arq=arq, subject=("quality_hold", str(hold_id)),
        urgency=notifications.Urgency.HIGH,
    )
    await audit(hold_id, "notified", actor_id, {"what": action, "recipients": len(people),
                                                "to": ["subcontractor", "general_contractor", "project_leads", "station"]})


async def tell_workers(settings: Settings, arq: ArqRedis | None, actor_id: UUID | None, hold_id: UUID) -> None:
    """A hold started: the workers on that subcontractor's roster are told their wages are not affected (总包代发)."""
    hold = await hold_row(hold_id)
    rows = await ProjectWorker.select(ProjectWorker.worker.user.as_alias("user")).where(
        (ProjectWorker.project == hold["project"]) & (ProjectWorker.enterprise == hold["enterprise"])
        & ProjectWorker.exited_at.is_null() & ProjectWorker.worker.user.is_not_null())
    users = list(dict.fromkeys(r["user"] for r in rows))
    if users:
        await notifications.notify(
            users, "wages_unaffected", {"project": hold["project_name"]}, dedup_key=f"hold:{hold_id}:workers",
            settings=settings, arq=arq, subject=("quality_hold", str(hold_id)))
    await audit(hold_id, "workers_told", actor_id, {"recipients": len(users)})


async def started(settings: Settings, arq: ArqRedis | None, actor: Principal, hold_id: UUID) -> None:
    """In the placing transaction: everyone concerned is told (outbox rows; each telling audited)."""
    await announce(settings, arq, actor.id, hold_id, "暂停", "连续两次抽查不合格")
    await tell_workers(settings, arq, actor.id, hold_id)


async def lift(settings: Settings, arq: ArqRedis | None, actor: Principal, hold_id: UUID, reason: str) -> HoldOut:
    """Two people lift a hold: one re-inspects and passes, ANOTHER with the regulator role approves (四眼原则).

    The approver is a regulator admin (主管部门) of the project's district who did not make the passing
    re-inspection; the re-inspection is by the station (an inspector or admin). Issue 19 build 6.
    """
    access_policy.require(actor, "regulator_admin", {})
    row = await hold_row(hold_id)
    access_policy.require(actor, "admin_of_district", row)
    if row["status"] != "active":
        raise Conflict("HOLD_NOT_ACTIVE")
    passing = await SpotCheck.select(SpotCheck.id, SpotCheck.inspector).where(
        SpotCheck.reinspection_of.is_in(list(row["evidence"])) & SpotCheck.passed.eq(True)
        & (SpotCheck.project == row["project"])
    ).order_by(SpotCheck.checked_at, ascending=False)
    if not passing:
        await audit(hold_id, "refused", actor.id, {"attempt": "lift", "code": "HOLD_NEEDS_REINSPECTION"})
        raise Conflict("HOLD_NEEDS_REINSPECTION", detail={"evidence": [str(e) for e in row["evidence"]]})
    by_another = [r for r in passing if r["inspector"] != actor.id]
    if not by_another:
        await audit(hold_id, "refused", actor.id, {"attempt": "lift", "code": "HOLD_REINSPECTOR_CANNOT_APPROVE"})
        raise Conflict("HOLD_REINSPECTOR_CANNOT_APPROVE")
    reinspection = by_another[0]
    full_reason = f"{reason}（复查 {reinspection['id']}）"
    async with QualityHold._meta.db.transaction():
        await transition("lift", actor.id, {"reason": reason, "reinspection": reinspection["id"],
                                            "reinspected_by": reinspection["inspector"], "approved_by": actor.id},
                         hold_id=hold_id, values={
            QualityHold.lifted_at: utcnow(), QualityHold.lifted_by: actor.id, QualityHold.lift_reason: full_reason})
        await announce(settings, arq, actor.id, hold_id, "解除", full_reason)
    return hold_out(await hold_row(hold_id))


async def request_lift(settings: Settings, arq: ArqRedis | None, actor: Principal, hold_id: UUID, note: str) -> HoldOut:
    """The held subcontractor or the GC reports the defects put right and asks the station to re-inspect."""
    row = await hold_row(hold_id)
    side = await access_policy.hold_side(actor, row)
    if row["status"] != "active":
        raise Conflict("HOLD_NOT_ACTIVE")
    event_id = uuid4()
    async with QualityHoldEvent._meta.db.transaction():
        await QualityHoldEvent.insert(QualityHoldEvent(
            id=event_id, hold=hold_id, action="lift_requested", actor=actor.id,
            detail=json.dumps({"by": side, "note": note}, ensure_ascii=False)))
        await notifications.notify(
            await _station(row["district"]), "quality_hold",
            {"project": row["project_name"], "enterprise": row["enterprise_name"], "action": "申请复查", "reason": note},
            dedup_key=f"hold:{hold_id}:lift_requested:{event_id}", settings=settings, arq=arq,
            subject=("quality_hold", str(hold_id)))
    return hold_out(row)


async def events(actor: Principal, hold_id: UUID) -> list[HoldEventOut]:
    """A hold's trail: regulators of its district, the project's GC and the held subcontractor."""
    row = await hold_row(hold_id)
    await access_policy.check(actor, "read_hold", row)
    rows = await QualityHoldEvent.select().where(QualityHoldEvent.hold == hold_id).order_by(QualityHoldEvent.at).output(
        load_json=True)
    return [HoldEventOut(action=r["action"], actor_id=r["actor"],
                         detail=r["detail"], at=r["at"])
            for r in rows]


async def holds(actor: Principal, project_id: UUID, status: str | None) -> list[HoldOut]:
    """A project's holds: staff of its district, its leads, and its parties' people."""
    project = await projects_service.get_project_row(project_id)
    await access_policy.check(actor, "read_holds", project)
    query = QualityHold.select(QualityHold.id).where(QualityHold.project == project_id)
    if status:
        query = query.where(QualityHold.status == status)
    return [hold_out(await hold_row(r["id"])) for r in await query.order_by(QualityHold.started_at)]
