"""Project stages (项目阶段): one transition() through rules.STAGE_ACTIONS, an event row per move, gates applied."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import msgspec

from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict
from backend.lifecycle import access, gates
from backend.lifecycle.rules import STAGE_ACTIONS, STAGE_ZH, Stage, TransitionRefused, stage_action
from backend.lifecycle.schemas import BlockingItem, StageEventOut, StageOut, StageTransitionIn
from backend.lifecycle.tables import StageEvent
from backend.projects import service as projects_service
from backend.projects.tables import Project

# Project.status follows the stage where the two overlap (the older, coarser field other domains read).
_STATUS_AFTER = {Stage.STARTED: "under_construction", Stage.COMPLETION_ACCEPTED: "completed"}


def _next_actions(stage: str) -> list[str]:
    return [name for name, move in STAGE_ACTIONS.items() if move.source.value == stage]


async def _blocking_for(project_id: UUID, stage: str) -> list[BlockingItem]:
    for name in _next_actions(stage):
        move = STAGE_ACTIONS[name]
        if move.gated:
            return await gates.blocking_items(project_id, move.inspections)
    return []


async def _events(project_id: UUID) -> list[StageEventOut]:
    rows = await StageEvent.select().where(StageEvent.project == project_id).order_by(StageEvent.at).output(
        load_json=True)
    return [StageEventOut(action=r["action"], from_stage=r["from_stage"], to_stage=r["to_stage"], actor_id=r["actor"],
                          actor_role=r["actor_role"], at=r["at"], note=r["note"], detail=r["detail"] or {})
            for r in rows]


async def view(project: dict[str, Any]) -> StageOut:
    """The stage, its history, the next moves and what blocks the next gated one (no access check)."""
    stage = project["stage"]
    return StageOut(project_id=project["id"], stage=Stage(stage), stage_zh=STAGE_ZH[Stage(stage)],
                    next_actions=_next_actions(stage), blocking=await _blocking_for(project["id"], stage),
                    events=await _events(project["id"]))


async def get_stage(actor: Principal, project_id: UUID) -> StageOut:
    """A project's stage and timeline, for its readers."""
    project = await projects_service.get_project_row(project_id)
    await access.check_reader(actor, project)
    return await view(project)


async def transition(actor: Principal, project_id: UUID, data: StageTransitionIn) -> StageOut:
    """Move the project one stage on, by the party allowed to; gated moves refuse with every blocking item."""
    project = await projects_service.get_project_row(project_id)
    if data.action not in STAGE_ACTIONS:
        raise BadRequest("STAGE_ACTION_UNKNOWN", detail={"action": data.action, "known": list(STAGE_ACTIONS)})
    move = STAGE_ACTIONS[data.action]
    await access.check_act(actor, project, move.roles, move.project_party)
    detail: dict[str, Any] = {}
    if data.action == "permit":
        if data.permit is None:
            raise BadRequest("PERMIT_REQUIRED")
        detail = {"permit_no": data.permit.permit_no.upper(), "issued_on": data.permit.issued_on.isoformat(),
                  "authority": data.permit.authority.strip()}
    async with Project._meta.db.transaction():
        # The row lock makes concurrent moves of one project take turns (the second sees the new stage).
        locked = await Project.raw("SELECT stage FROM projects WHERE id = {} FOR UPDATE", project_id)
        current = locked[0]["stage"]
        try:
            stage_action(data.action, current)
        except TransitionRefused:
            raise Conflict("STAGE_TRANSITION_REFUSED", detail={"action": data.action, "stage": current,
                                                               "allowed": _next_actions(current)}) from None
        if move.gated:
            blocking = await gates.blocking_items(project_id, move.inspections)
            if blocking:
                raise Conflict("STAGE_GATE_BLOCKED", detail={"action": data.action,
                                                             "blocking": msgspec.to_builtins(blocking)})
        now = utcnow()
        changes: dict[Any, Any] = {Project.stage: move.target.value, Project.updated_at: now}
        if move.target in _STATUS_AFTER:
            changes[Project.status] = _STATUS_AFTER[move.target]
        await Project.update(changes).where(Project.id == project_id)
        await StageEvent.insert(StageEvent(
            id=uuid4(), project=project_id, action=data.action, from_stage=current, to_stage=move.target.value,
            actor=actor.id if actor.kind == "user" else None, actor_role=actor.role.value if actor.role else "",
            at=now, note=data.note, detail=detail))
    return await view(await projects_service.get_project_row(project_id))
