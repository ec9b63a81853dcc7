"""Which rows a list shows: the policy's reach as a filter, so a list, its total and its counts never include rows
outside the caller's scope.

``project_scope(actor, district)`` answers, for data that belongs to a project (projects, batches, alarms, camera
alerts, credit events): every district (a city admin), one district (staff; or a district a non-staff caller
narrowed to), and for enterprise users the projects they lead or their enterprise is a party of. The same rule
as ``read_project`` in ``backend.access.policy``, as a filter. ``where(...)`` gives Piccolo clauses, ``sql(...)``
a fragment for raw queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.auth.principal import STAFF_ROLES, Principal, Role
from backend.errors import Forbidden
from backend.projects.tables import ProjectLead, ProjectParty

_STAFF_ONLY = {"allowed": [Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value]}


@dataclass(frozen=True, slots=True)
class Scope:
    """Rows the caller may see; all fields None = the whole city."""

    district: int | None = None
    lead: UUID | None = None  # only projects this user is a named lead of
    party: UUID | None = None  # only projects this enterprise is a party of

    @property
    def everything(self) -> bool:
        return self.district is None and self.lead is None and self.party is None

    def where(self, project_col: Any = None, district_col: Any = None) -> list[Any]:
        """Piccolo where-clauses on the listed table's project and district columns."""
        clauses: list[Any] = []
        if self.district is not None:
            clauses.append(district_col == self.district)
        if self.lead is not None:
            clauses.append(project_col.is_in(ProjectLead.select(ProjectLead.project).where(ProjectLead.user == self.lead)))
        if self.party is not None:
            clauses.append(project_col.is_in(
                ProjectParty.select(ProjectParty.project).where(ProjectParty.enterprise == self.party)))
        return clauses

    def sql(self, project_expr: str | None = None, district_expr: str | None = None) -> tuple[list[str], list[Any]]:
        """The same filter as SQL conditions with ``{}`` placeholders and their arguments."""
        clauses: list[str] = []
        args: list[Any] = []
        if self.district is not None:
            clauses.append(f"{district_expr} = {{}}")
            args.append(self.district)
        if self.lead is not None:
            clauses.append(f"{project_expr} IN (SELECT project FROM project_leads WHERE \"user\" = {{}})")
            args.append(self.lead)
        if self.party is not None:
            clauses.append(f"{project_expr} IN (SELECT project FROM project_parties WHERE enterprise = {{}})")
            args.append(self.party)
        return clauses, args


def project_scope(actor: Principal, district: int | None = None, *, staff_only: bool = False) -> Scope:
    """The caller's reach over project data, narrowed to ``district`` when given.

    Staff: their district (a city admin: all, or the one asked for); asking for another district is refused
    (FORBIDDEN_DISTRICT). Project leads: the projects they lead; supervisors: the projects their enterprise is a
    party of. Anyone else, and enterprise users where ``staff_only``, is refused (FORBIDDEN_ROLE).
    """
    if actor.is_staff:
        if district is not None:
            if not actor.can_see_district(district):
                raise Forbidden("FORBIDDEN_DISTRICT", detail={"action": "list"})
            return Scope(district=district)
        return Scope() if actor.is_city_wide else Scope(district=actor.district_id)
    if staff_only:
        raise Forbidden("FORBIDDEN_ROLE", detail={"action": "list", **_STAFF_ONLY})
    if actor.has_role(Role.PROJECT_LEAD) and actor.kind == "user":
        return Scope(district=district, lead=actor.id)
    if actor.has_role(Role.SUPERVISOR) and actor.enterprise_id is not None:
        return Scope(district=district, party=actor.enterprise_id)
    raise Forbidden("FORBIDDEN_ROLE", detail={"action": "list"})


def staff_district(actor: Principal, district: int | None = None, *, roles: frozenset[Role] = STAFF_ROLES) -> int | None:
    """The one district a regulators' list shows: the one asked for (refused outside the caller's reach), else the
    caller's own; None = the whole city (a city admin who asked for none). Callers outside ``roles`` are refused
    (FORBIDDEN_ROLE)."""
    if not actor.has_role(*roles):
        raise Forbidden("FORBIDDEN_ROLE", detail={"action": "list", "allowed": sorted(r.value for r in roles)})
    if district is not None:
        if not actor.can_see_district(district):
            raise Forbidden("FORBIDDEN_DISTRICT", detail={"action": "list"})
        return district
    return None if actor.is_city_wide else actor.district_id


def managed_users(actor: Principal, user_table: Any) -> list[Any]:
    """The accounts an admin may manage (policy manage_user) as where-clauses on the users table: a city admin
    every account; a district admin its own district's inspectors and admins."""
    if actor.is_city_wide:
        return []
    return [(user_table.district == actor.district_id) & user_table.role.is_in([r.value for r in STAFF_ROLES])]


def answerable_projects_sql(actor: Principal, project_expr: str) -> tuple[str, list[Any]]:
    """For a non-staff caller, the projects whose site alarms they answer for, as one SQL condition on
    ``project_expr`` with ``{}`` placeholders: the projects they lead, those their enterprise supervises (a
    supervisor), and those where they are the safety director of a dangerous work — ``read_monitoring`` of
    backend.access.policy as a filter (tests/monitoring/test_scope_policy.py holds them together). Staff use
    ``project_scope``."""
    return (
        f"{project_expr} IN (SELECT project FROM project_leads WHERE \"user\" = {{}}"
        " UNION SELECT pp.project FROM project_parties pp WHERE pp.enterprise = {} AND {}"
        " UNION SELECT project FROM dangerous_works WHERE safety_director = {})",
        [actor.id, actor.enterprise_id, actor.has_role(Role.SUPERVISOR), actor.id],
    )
