"""Relations the policy decides on (is party of a project as kind K, is on a roster, is the lab of a sampling …).

Each function answers one question from the database; ``policy.check`` maps an action to one of them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth.principal import Principal, Role
from backend.enterprises.tables import Enterprise
from backend.monitoring.tables import DangerousWork
from backend.projects.tables import ProjectLead, ProjectParty
from backend.workforce.tables import ProjectWorker


async def current_employers_and_gcs(worker_id: UUID) -> set[UUID]:
    """Enterprises that employ the worker on a project where the worker is on the roster now, and those
    projects' general contractors."""
    stints = await ProjectWorker.select(ProjectWorker.project, ProjectWorker.enterprise).where(
        (ProjectWorker.worker == worker_id) & ProjectWorker.exited_at.is_null())
    if not stints:
        return set()
    gcs = await ProjectParty.select(ProjectParty.enterprise).where(
        ProjectParty.project.is_in([s["project"] for s in stints]) & (ProjectParty.role == "general_contractor"))
    return {s["enterprise"] for s in stints} | {g["enterprise"] for g in gcs}


async def is_gc_lead_of(actor: Principal, project_id: UUID) -> bool:
    """A project lead of one of the project's general contractors."""
    if not actor.has_role(Role.PROJECT_LEAD) or actor.enterprise_id is None:
        return False
    return await ProjectParty.exists().where(
        (ProjectParty.project == project_id) & (ProjectParty.enterprise == actor.enterprise_id)
        & (ProjectParty.role == "general_contractor"))


def district_admin_manages(actor: Principal, target_role: str, target_district: int | None) -> bool:
    """A district admin manages inspectors and admins of its own district, nobody else."""
    return target_district is not None and target_district == actor.district_id and target_role in (
        Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value)


def is_lab_of_sampling(actor: Principal, sampling_lab_ids: set[Any]) -> bool:
    return actor.kind == "user" and actor.enterprise_id is not None and actor.enterprise_id in sampling_lab_ids


async def is_lead_of(actor: Principal, project_id: UUID) -> bool:
    """One of the project's named project leads (项目负责人)."""
    return actor.kind == "user" and await ProjectLead.exists().where(
        (ProjectLead.project == project_id) & (ProjectLead.user == actor.id))


async def is_party_of(enterprise_id: UUID | None, project_id: UUID, role: str | None = None) -> bool:
    """The enterprise is a party of the project (as ``role`` when given)."""
    if enterprise_id is None:
        return False
    where = (ProjectParty.project == project_id) & (ProjectParty.enterprise == enterprise_id)
    if role is not None:
        where &= ProjectParty.role == role
    return await ProjectParty.exists().where(where)


async def reads_project(actor: Principal, project: dict[str, Any]) -> bool:
    """Staff of the project's district, the project's leads, supervisors whose enterprise is a party."""
    if actor.is_staff:
        return actor.can_see_district(project["district"])
    if actor.has_role(Role.PROJECT_LEAD):
        return await is_lead_of(actor, project["id"])
    if actor.has_role(Role.SUPERVISOR):
        return await is_party_of(actor.enterprise_id, project["id"])
    return False


async def is_safety_director_of(actor: Principal, project_id: UUID) -> bool:
    """Named safety director (安全总监) of one of the project's dangerous works."""
    return actor.kind == "user" and await DangerousWork.exists().where(
        (DangerousWork.project == project_id) & (DangerousWork.safety_director == actor.id))


async def enterprise_kinds(enterprise_id: UUID | None) -> set[str]:
    """The kinds of an enterprise (general contractor, testing lab, …); empty when none."""
    if enterprise_id is None:
        return set()
    row = await Enterprise.select(Enterprise.kinds).where(Enterprise.id == enterprise_id).first()
    return set(row["kinds"]) if row else set()


async def party_roles(project_id: UUID, enterprise_id: UUID | None) -> set[str]:
    """The roles the enterprise holds on the project (general_contractor, labour_subcontractor, …)."""
    if enterprise_id is None:
        return set()
    rows = await ProjectParty.select(ProjectParty.role).where(
        (ProjectParty.project == project_id) & (ProjectParty.enterprise == enterprise_id))
    return {r["role"] for r in rows}
