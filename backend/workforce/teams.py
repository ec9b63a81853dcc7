"""Teams (班组) of a labour subcontractor on a project, and which team a worker's roster stint is in.

Who may change teams: as for the roster (``roster.check_change``, access policy change_roster) — a regulator admin of the district, or a
project lead of the team's subcontractor or of the project's general contractor. Who may read them: as for
the roster (``roster.scope``) — district staff and the GC's leads see all, a subcontractor's lead its own.
A disbanded team (解散) keeps its row for the stints' history and takes no one new; it is disbanded only
once no worker on the roster is left in it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from asyncpg.exceptions import UniqueViolationError

from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.workforce import roster
from backend.workforce.schemas import StintOut, TeamIn, TeamOut, TeamUpdate
from backend.workforce.tables import ProjectWorker, Team

_SELECT = """
SELECT t.id, t.project, t.enterprise, t.name, t.leader, t.created_at, t.disbanded_at,
       COALESCE(w.name, '') AS leader_name,
       (SELECT count(*) FROM project_workers pw WHERE pw.team = t.id AND pw.exited_at IS NULL) AS members
FROM worker_teams t LEFT JOIN workers w ON w.id = t.leader
"""


def _out(row: dict[str, Any]) -> TeamOut:
    return TeamOut(
        id=row["id"], project_id=row["project"], enterprise_id=row["enterprise"], name=row["name"],
        leader_worker_id=row["leader"], leader_name=row["leader_name"], members=int(row["members"]),
        created_at=row["created_at"], disbanded_at=row["disbanded_at"],
    )


async def _row(team_id: UUID) -> dict[str, Any]:
    rows = await Team.raw(_SELECT + " WHERE t.id = {}", team_id)
    if not rows:
        raise NotFound("TEAM_NOT_FOUND")
    return rows[0]


async def _check_leader(worker_id: UUID, project_id: UUID, enterprise_id: UUID) -> None:
    """A leader (班组长) is a worker on this project's roster for this subcontractor."""
    on = await ProjectWorker.exists().where(
        (ProjectWorker.project == project_id) & (ProjectWorker.worker == worker_id)
        & (ProjectWorker.enterprise == enterprise_id) & ProjectWorker.exited_at.is_null()
    )
    if not on:
        raise BadRequest("TEAM_LEADER_NOT_ON_ROSTER", detail={"worker_id": str(worker_id)})


async def create(actor: Principal, data: TeamIn) -> TeamOut:
    """A new team of a subcontractor of the project; names are unique per project and subcontractor."""
    await roster.check_change(actor, data.project_id, data.enterprise_id)
    roles = (await roster.parties(data.project_id)).get(data.enterprise_id, set())
    if "labour_subcontractor" not in roles and "general_contractor" not in roles:
        raise BadRequest("NOT_PROJECT_SUBCONTRACTOR", detail={"enterprise_ids": [str(data.enterprise_id)]})
    if data.leader_worker_id is not None:
        await _check_leader(data.leader_worker_id, data.project_id, data.enterprise_id)
    team_id = uuid4()
    try:
        await Team.insert(Team(id=team_id, project=data.project_id, enterprise=data.enterprise_id,
                               name=data.name.strip(), leader=data.leader_worker_id, created_by=actor.id))
    except UniqueViolationError as exc:
        raise Conflict("TEAM_NAME_TAKEN") from exc
    return _out(await _row(team_id))


async def list_for(actor: Principal, project_id: UUID, include_disbanded: bool) -> list[TeamOut]:
    """A project's teams, as far as the actor may see its roster."""
    seen = await roster.scope(actor, project_id)
    sql, args = _SELECT + " WHERE t.project = {}", [project_id]
    if seen is not None:
        sql, args = sql + " AND t.enterprise = {}", [*args, seen]
    if not include_disbanded:
        sql += " AND t.disbanded_at IS NULL"
    return [_out(r) for r in await Team.raw(sql + " ORDER BY t.created_at, t.name", *args)]


async def get(actor: Principal, team_id: UUID) -> TeamOut:
    row = await _row(team_id)
    seen = await roster.scope(actor, row["project"])
    if seen is not None and seen != row["enterprise"]:
        raise NotFound("TEAM_NOT_FOUND")  # another subcontractor's team: as if it did not exist
    return _out(row)


async def update(actor: Principal, team_id: UUID, data: TeamUpdate) -> TeamOut:
    """Rename, set or clear the leader, or disband (only once nobody on the roster is left in it)."""
    row = await _row(team_id)
    await roster.check_change(actor, row["project"], row["enterprise"])
    if data.leader_worker_id is not None and data.clear_leader:
        raise BadRequest("VALIDATION_ERROR", detail="leader_worker_id and clear_leader together")
    if data.leader_worker_id is not None:
        await _check_leader(data.leader_worker_id, row["project"], row["enterprise"])
    values: dict[Any, Any] = {}
    if data.name is not None:
        values[Team.name] = data.name.strip()
    if data.leader_worker_id is not None:
        values[Team.leader] = data.leader_worker_id
    if data.clear_leader:
        values[Team.leader] = None
    try:
        async with Team._meta.db.transaction():
            locked = await Team.raw("SELECT disbanded_at FROM worker_teams WHERE id = {} FOR UPDATE", team_id)
            if locked[0]["disbanded_at"] is not None:
                raise Conflict("TEAM_DISBANDED")
            if data.disband:
                members = await ProjectWorker.count().where(
                    (ProjectWorker.team == team_id) & ProjectWorker.exited_at.is_null())
                if members:
                    raise Conflict("TEAM_NOT_EMPTY", detail={"members": members})
                values[Team.disbanded_at] = utcnow()
            if values:
                await Team.update(values).where(Team.id == team_id)
    except UniqueViolationError as exc:
        raise Conflict("TEAM_NAME_TAKEN") from exc
    return _out(await _row(team_id))


async def assign(actor: Principal, stint_id: UUID, team_id: UUID | None) -> StintOut:
    """Put a worker's open stint into a team of its subcontractor on the project, or out of any team."""
    stint = await ProjectWorker.select().where(ProjectWorker.id == stint_id).first()
    if stint is None:
        raise NotFound("STINT_NOT_FOUND")
    await roster.check_change(actor, stint["project"], stint["enterprise"])
    if stint["exited_at"] is not None:
        raise Conflict("WORKER_ALREADY_EXITED")
    async with ProjectWorker._meta.db.transaction():
        if team_id is not None:
            await roster.check_team(team_id, stint["project"], stint["enterprise"])
        done = await ProjectWorker.update({ProjectWorker.team: team_id}).where(
            (ProjectWorker.id == stint_id) & ProjectWorker.exited_at.is_null()
        ).returning(*ProjectWorker.all_columns())
        if not done:
            raise Conflict("WORKER_ALREADY_EXITED")
    return roster.stint_out(done[0])
