"""Who is who on a project, for the lifecycle rules (until backend/access/ holds one policy table)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.errors import Forbidden
from backend.projects import service as projects_service
from backend.projects.tables import ProjectLead, ProjectParty

SUPERVISION = "supervision"


async def is_lead(actor: Principal, project_id: UUID) -> bool:
    return actor.has_role(Role.PROJECT_LEAD) and await ProjectLead.exists().where(
        (ProjectLead.project == project_id) & (ProjectLead.user == actor.id))


async def is_supervisor(actor: Principal, project_id: UUID) -> bool:
    """A supervisor (监理) whose enterprise is the project's supervision party."""
    return actor.has_role(Role.SUPERVISOR) and actor.enterprise_id is not None and await ProjectParty.exists().where(
        (ProjectParty.project == project_id) & (ProjectParty.enterprise == actor.enterprise_id)
        & (ProjectParty.role == SUPERVISION))


async def require_reader(actor: Principal, project: dict[str, Any]) -> None:
    """Staff of the district, the project's leads, supervisors of its parties (projects.can_read)."""
    if not await projects_service.can_read(actor, project):
        raise Forbidden("FORBIDDEN_DISTRICT" if actor.is_staff else "FORBIDDEN_OWNER")


async def require_party_or_station(actor: Principal, project: dict[str, Any], roles: frozenset[Role],
                                   party: bool) -> None:
    """The actor has one of the roles; staff must be of the district; a lead/supervisor must be the project's."""
    if not actor.has_role(*roles):
        raise Forbidden("FORBIDDEN_ROLE", detail={"allowed": sorted(r.value for r in roles)})
    if actor.is_staff:
        actor.require_district(project["district"])
        return
    if not party:
        raise Forbidden("FORBIDDEN_ROLE", detail={"allowed": sorted(r.value for r in roles)})
    if actor.has_role(Role.PROJECT_LEAD) and await is_lead(actor, project["id"]):
        return
    if actor.has_role(Role.SUPERVISOR) and await is_supervisor(actor, project["id"]):
        return
    raise Forbidden("FORBIDDEN_OWNER")


async def supervisor_users(project_id: UUID) -> list[UUID]:
    """Active supervisor users of the project's supervision enterprises."""
    parties = ProjectParty.select(ProjectParty.enterprise).where(
        (ProjectParty.project == project_id) & (ProjectParty.role == SUPERVISION))
    rows = await User.select(User.id).where(
        (User.role == Role.SUPERVISOR.value) & User.enterprise.is_in(parties) & User.is_active.eq(True))
    return [r["id"] for r in rows]


async def station_users(district: int) -> list[UUID]:
    """Active inspectors and regulator admins of the district (the station)."""
    rows = await User.select(User.id).where(
        User.role.is_in([Role.REGULATOR_ADMIN.value, Role.INSPECTOR.value]) & (User.district == district)
        & User.is_active.eq(True))
    return [r["id"] for r in rows]
