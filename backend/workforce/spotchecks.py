"""Spot checks (抽查): a quality hold (``holds``) starts on exactly the second failed check running.

A hold stops the labour subcontractor from issuing/approving payroll and receiving progress payments
on that project; the workers' wages keep being paid by the general contractor (总包代发) — no worker
loses pay. Lifting needs a passing re-inspection (reinspection_of one of the hold's failed checks)
and the approval of an inspector or admin of the project's district, with a reason (see holds.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.credit import service as credit_service
from backend.db import utcnow
from backend.errors import BadRequest
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings
from backend.workforce import holds
from backend.workforce.rules import hold_begins
from backend.workforce.schemas import CheckItem, SpotCheckIn, SpotCheckOut
from backend.workforce.tables import SpotCheck


def _out(row: dict[str, Any], holds: list[UUID]) -> SpotCheckOut:
    items = row["items"] if isinstance(row["items"], list) else json.loads(row["items"])
    return SpotCheckOut(
        id=row["id"], project_id=row["project"], inspector_id=row["inspector"], checked_at=row["checked_at"],
        passed=row["passed"], items=[CheckItem(**i) for i in items], responsible_ids=list(row["responsible"]),
        batch_ids=list(row["batch_ids"]), reinspection_of=row["reinspection_of"], notes=row["notes"],
        holds_started=holds,
    )


async def _labour_subcontractors(project_id: UUID) -> set[UUID]:
    rows = await ProjectParty.select(ProjectParty.enterprise).where(
        (ProjectParty.project == project_id) & (ProjectParty.role == "labour_subcontractor")
    )
    return {r["enterprise"] for r in rows}


async def record(settings: Settings, arq: ArqRedis | None, actor: Principal, data: SpotCheckIn) -> SpotCheckOut:
    """An inspector records a check; the second failure running puts the subcontractor(s) on hold."""
    access_policy.require(actor, "staff", {})
    project = await projects_service.get_project_row(data.project_id)
    access_policy.require(actor, "station", project)
    labour = await _labour_subcontractors(data.project_id)
    responsible = list(dict.fromkeys(data.responsible_ids))
    stray = [str(e) for e in responsible if e not in labour]
    if stray:
        raise BadRequest("NOT_PROJECT_SUBCONTRACTOR", detail={"enterprise_ids": stray})
    passed = all(item.passed for item in data.items)
    checked_at = data.checked_at or utcnow()
    if checked_at > utcnow():
        raise BadRequest("VALIDATION_ERROR", detail="checked_at is in the future")
    check_id = uuid4()
    started: list[UUID] = []
    async with SpotCheck._meta.db.transaction():
        await SpotCheck.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"spotcheck:{data.project_id}")
        if data.reinspection_of is not None:
            original = await SpotCheck.select(SpotCheck.project).where(SpotCheck.id == data.reinspection_of).first()
            if original is None or original["project"] != data.project_id:
                raise BadRequest("REINSPECTION_OTHER_PROJECT")
        await SpotCheck.insert(SpotCheck(
            id=check_id, project=data.project_id, inspector=actor.id, checked_at=checked_at, passed=passed,
            items=json.dumps([{"name": i.name, "passed": i.passed, "note": i.note} for i in data.items], ensure_ascii=False),
            responsible=responsible, batch_ids=list(dict.fromkeys(data.batch_ids)),
            reinspection_of=data.reinspection_of, notes=data.notes,
        ))
        await media_service.attach(actor.id, data.photo_ids, Purpose.SPOT_CHECK, ("spot_check", str(check_id)))
        history = await SpotCheck.select(SpotCheck.id, SpotCheck.passed, SpotCheck.responsible).where(
            SpotCheck.project == data.project_id
        ).order_by(SpotCheck.checked_at).order_by(SpotCheck.created_at)
        if not passed:  # credit: a failed check counts against the answerable subcontractors
            for enterprise_id in sorted(set(responsible) or labour, key=str):
                await credit_service.record_event(
                    enterprise_id, "spot_check_failed", f"spot_check:{check_id}", settings=settings, arq=arq,
                    project_id=data.project_id, recorded_by=actor.id, note=data.notes[:200])
        if passed and data.reinspection_of is not None:
            await holds.note_reinspection(data.project_id, check_id, data.reinspection_of, actor.id)
        if hold_begins([h["passed"] for h in history]):
            evidence = [history[-2]["id"], history[-1]["id"]]
            targets = set(history[-1]["responsible"]) | set(history[-2]["responsible"]) or labour
            for enterprise_id in sorted(targets, key=str):
                hold_id = await holds.place(settings, arq, actor, data.project_id, enterprise_id, evidence)
                if hold_id is not None:
                    started.append(hold_id)
        for hold_id in started:  # outbox rows of the placing transaction: told if and only if the hold stands
            await holds.started(settings, arq, actor, hold_id)  # told, workers too: wages not affected
    row = await SpotCheck.select().where(SpotCheck.id == check_id).first()
    for batch_id in data.batch_ids:
        # Imported here: materials' trace view imports this module to list the checks.
        from backend.materials.service import invalidate

        await invalidate(arq, batch_id)  # the batch's cached trace view now misses this check
    return _out(row, started)


async def checks(actor: Principal, project_id: UUID) -> list[SpotCheckOut]:
    project = await projects_service.get_project_row(project_id)
    access_policy.require(actor, "station", project)
    rows = await SpotCheck.select().where(SpotCheck.project == project_id).order_by(SpotCheck.checked_at)
    return [_out(r, []) for r in rows]


async def for_batch(batch_id: UUID) -> list[dict[str, Any]]:
    """Spot checks that looked at a material batch, for its public trace view (no names)."""
    rows = await SpotCheck.raw(
        "SELECT checked_at, passed, items FROM spot_checks WHERE {} = ANY(batch_ids) ORDER BY checked_at", batch_id
    )
    result = []
    for r in rows:
        items = r["items"] if isinstance(r["items"], list) else json.loads(r["items"])
        result.append({"at": r["checked_at"].isoformat() if isinstance(r["checked_at"], datetime) else r["checked_at"],
                       "passed": r["passed"], "items_failed": sum(1 for i in items if not i["passed"])})
    return result
