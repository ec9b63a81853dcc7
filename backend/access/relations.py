"""Relations the policy decides on (is party of a project as kind K, is on a roster, is the lab of a sampling …).

Each function answers one question from the database; ``policy.check`` maps an action to one of them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth.principal import Principal, Role
from backend.projects.tables import ProjectParty
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
