"""Who is who on a project, for the lifecycle rules; rights are decided by backend.access.policy."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.access import policy as access_policy
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
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


async def check_reader(actor: Principal, project: dict[str, Any]) -> None:
    """Access policy read_project: staff of the district, the project's leads, supervisors of its parties."""
    await access_policy.check(actor, "read_project", project)


async def check_act(actor: Principal, project: dict[str, Any], roles: frozenset[Role], party: bool) -> None:
    """Access policy move_project: one of the roles; staff of the district; a party's own lead/supervisor."""
    await access_policy.check(actor, "move_project", {"project": project, "roles": roles, "party": party})


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
