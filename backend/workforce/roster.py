"""The project roster (花名册, 进退场): stints of workers on projects, who entered/exited them.

Who may change a project's roster: a regulator admin of the district, or a project lead of the
employing labour subcontractor or of the project's general contractor. Who may read it: district
staff, and leads of the general contractor (all) or of a subcontractor (its own workers only).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from asyncpg.exceptions import UniqueViolationError

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.workforce.schemas import StintIn, StintOut
from backend.workforce.tables import ProjectWorker, Team, Worker

_NOBODY = UUID(int=0)


def stint_out(row: dict[str, Any]) -> StintOut:
    return StintOut(
        id=row["id"], project_id=row["project"], worker_id=row["worker"], enterprise_id=row["enterprise"],
        trade=row["trade"], daily_rate_fen=row["daily_rate_fen"], entered_at=row["entered_at"],
        exited_at=row["exited_at"], entered_by=row["entered_by"], exited_by=row["exited_by"], team_id=row["team"],
    )


async def parties(project_id: UUID) -> dict[UUID, set[str]]:
    rows = await ProjectParty.select(ProjectParty.enterprise, ProjectParty.role).where(ProjectParty.project == project_id)
    out: dict[UUID, set[str]] = {}
    for r in rows:
        out.setdefault(r["enterprise"], set()).add(r["role"])
    return out


async def scope(actor: Principal, project_id: UUID) -> UUID | None:
    """Whose stints the actor may see on this project (access policy read_roster): None = all; an enterprise id =
    only that one's."""
    return await access_policy.roster_scope(actor, await projects_service.get_project_row(project_id))


async def check_change(actor: Principal, project_id: UUID, enterprise_id: UUID) -> None:
    """Access policy change_roster: a regulator admin of the district, or a lead of the employing subcontractor or
    of the project's GC."""
    project = await projects_service.get_project_row(project_id)
    await access_policy.check(actor, "change_roster", {"project": project, "enterprise": enterprise_id})


async def enter(actor: Principal, data: StintIn) -> StintOut:
    """Put a worker on a project's roster; their employer must be a labour subcontractor of the project."""
    await check_change(actor, data.project_id, data.enterprise_id)
    roles = (await parties(data.project_id)).get(data.enterprise_id, set())
    if "labour_subcontractor" not in roles and "general_contractor" not in roles:
        raise BadRequest("NOT_PROJECT_SUBCONTRACTOR")
    worker = await Worker.select(Worker.contract_signed).where(Worker.id == data.worker_id).first()
    if worker is None:
        raise NotFound("WORKER_NOT_FOUND")
    if not worker["contract_signed"]:
        raise BadRequest("WORKER_NO_CONTRACT")
    stint_id = uuid4()
    try:
        async with ProjectWorker._meta.db.transaction():
            if data.team_id is not None:
                await check_team(data.team_id, data.project_id, data.enterprise_id)
            await ProjectWorker.insert(ProjectWorker(
                id=stint_id, project=data.project_id, worker=data.worker_id, enterprise=data.enterprise_id,
                team=data.team_id, trade=data.trade, daily_rate_fen=data.daily_rate_fen, entered_at=utcnow(),
                entered_by=actor.id,
            ))
    except UniqueViolationError as exc:  # the partial unique index: one open stint per project+worker
        raise Conflict("WORKER_ALREADY_ON_ROSTER") from exc
    return stint_out(await ProjectWorker.select().where(ProjectWorker.id == stint_id).first())


async def check_team(team_id: UUID, project_id: UUID, enterprise_id: UUID) -> None:
    """A stint may join a team only of its own project and subcontractor, and not a disbanded one."""
    # FOR SHARE: inside the caller's transaction, a disbanding (FOR UPDATE) waits for this stint, and vice versa.
    rows = await Team.raw("SELECT project, enterprise, disbanded_at FROM worker_teams WHERE id = {} FOR SHARE", team_id)
    team = rows[0] if rows else None
    if team is None:
        raise NotFound("TEAM_NOT_FOUND")
    if team["project"] != project_id or team["enterprise"] != enterprise_id:
        raise BadRequest("TEAM_OTHER_EMPLOYER")
    if team["disbanded_at"] is not None:
        raise Conflict("TEAM_DISBANDED")


async def exit_(actor: Principal, stint_id: UUID) -> StintOut:
    row = await ProjectWorker.select().where(ProjectWorker.id == stint_id).first()
    if row is None:
        raise NotFound("STINT_NOT_FOUND")
    await check_change(actor, row["project"], row["enterprise"])
    done = await ProjectWorker.update({ProjectWorker.exited_at: utcnow(), ProjectWorker.exited_by: actor.id}).where(
        (ProjectWorker.id == stint_id) & ProjectWorker.exited_at.is_null()
    ).returning(*ProjectWorker.all_columns())
    if not done:
        raise Conflict("WORKER_ALREADY_EXITED")
    return stint_out(done[0])


async def history(actor: Principal, project_id: UUID | None, worker_id: UUID | None) -> list[StintOut]:
    """Every stint (entries and exits), of a project or of a worker, oldest first, as far as the actor may see."""
    if project_id is None and worker_id is None:
        raise BadRequest("VALIDATION_ERROR", detail="project_id or worker_id is required")
    query = ProjectWorker.select().order_by(ProjectWorker.entered_at)
    if project_id is not None:
        seen = await scope(actor, project_id)
        query = query.where(ProjectWorker.project == project_id)
        if seen is not None:
            query = query.where(ProjectWorker.enterprise == seen)
        if worker_id is not None:
            query = query.where(ProjectWorker.worker == worker_id)
        return [stint_out(r) for r in await query]
    rows = await query.where(ProjectWorker.worker == worker_id)
    allowed: dict[UUID, UUID | None] = {}
    out = []
    for r in rows:
        if r["project"] not in allowed:
            try:
                allowed[r["project"]] = await scope(actor, r["project"])
            except Forbidden:
                allowed[r["project"]] = _NOBODY  # sees nothing of that project
        seen = allowed[r["project"]]
        if seen is None or seen == r["enterprise"]:
            out.append(stint_out(r))
    return out
