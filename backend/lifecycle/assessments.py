"""Credit inputs from third-party assessments (第三方评估) and key personnel certificates (关键岗位人员持证).

An assessment: an assessor (the third-party organisation), the period it covers, the enterprise and project
it looked at, and three indicators:
- quality behaviour (质量行为评分), 0–100;
- share of key personnel with valid certificates (关键岗位人员持证率), 0–1;
- share of equipment in good order (设备完好率), 0–1.

Weights (documented here and in docs/LIFECYCLE.md): composite = 0.5 × quality + 0.3 × 100 × personnel
+ 0.2 × 100 × equipment. The composite feeds the credit score as one ``assessment`` event whose points are
(composite − 85) / 5, rounded half away from zero and capped to −6 … +3: 85 is neutral, every 5 points
away is one point, a bad assessment weighs at most as much as a quality hold's half, a good one at most
as a regulator's bonus. The event decays like every other (credit.scoring).

Key personnel: each project needs a registered project manager (项目经理, 注册建造师), a chief supervising
engineer (总监理工程师, 注册监理工程师) and a full-time safety officer (专职安全生产管理人员, C 证) —
《建筑施工企业主要负责人、项目负责人和专职安全生产管理人员安全生产管理规定》(住建部令第17号) and
GB/T 50319-2013 (监理规范) 3.1. A missing one or one whose certificate has expired is flagged on the project
(site view, ``personnel_flags``) and counted.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.access import scope as access_scope
from backend.auth.principal import Principal, Role
from backend.credit import service as credit_service
from backend.db import utcnow
from backend.errors import BadRequest
from backend.lifecycle import access
from backend.lifecycle.schemas import AssessmentIn, AssessmentOut, KeyPersonIn, KeyPersonnelOut, KeyPersonOut
from backend.lifecycle.tables import Assessment, KeyPerson
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings

WEIGHTS = {"quality_behaviour": 0.5, "personnel_certified_share": 0.3, "equipment_good_share": 0.2}
NEUTRAL = 85.0
POINTS_PER = 5.0
MIN_POINTS, MAX_POINTS = -6, 3
ASSESSMENT_KIND = "assessment"

REQUIRED_ROLES = ("project_manager", "chief_supervisor", "safety_officer")
ROLE_ZH = {"project_manager": "项目经理", "chief_supervisor": "总监理工程师", "safety_officer": "专职安全员",
           "technical_lead": "技术负责人"}


def composite(quality: float, personnel_share: float, equipment_share: float) -> float:
    """The weighted composite of the three indicators, 0–100."""
    return round(WEIGHTS["quality_behaviour"] * quality + WEIGHTS["personnel_certified_share"] * 100 * personnel_share
                 + WEIGHTS["equipment_good_share"] * 100 * equipment_share, 2)


def points(value: float) -> int:
    """Credit points of a composite: (value − 85) / 5, rounded half away from zero, capped to −6 … +3."""
    raw = (value - NEUTRAL) / POINTS_PER
    rounded = math.floor(abs(raw) + 0.5) * (1 if raw >= 0 else -1)
    return int(max(MIN_POINTS, min(MAX_POINTS, rounded)))


def _out(row: dict[str, Any]) -> AssessmentOut:
    return AssessmentOut(
        id=row["id"], enterprise_id=row["enterprise"], project_id=row["project"], assessor=row["assessor"],
        period_start=row["period_start"], period_end=row["period_end"], quality_behaviour=row["quality_behaviour"],
        personnel_certified_share=row["personnel_certified_share"], equipment_good_share=row["equipment_good_share"],
        composite=row["composite"], points=row["points"], recorded_by=row["recorded_by"], recorded_at=row["recorded_at"])


async def record(settings: Settings, arq: ArqRedis | None, actor: Principal, data: AssessmentIn) -> AssessmentOut:
    """Enter a third-party assessment of an enterprise on a project (station staff of its district); scores it."""
    access_policy.require(actor, "staff", {})
    project = await projects_service.get_project_row(data.project_id)
    access_policy.require(actor, "station", project)
    if data.period_end < data.period_start:
        raise BadRequest("ASSESSMENT_PERIOD_INVALID")
    if not await ProjectParty.exists().where((ProjectParty.project == data.project_id)
                                             & (ProjectParty.enterprise == data.enterprise_id)):
        raise BadRequest("ASSESSMENT_NOT_A_PARTY", detail={"enterprise_id": str(data.enterprise_id)})
    value = composite(data.quality_behaviour, data.personnel_certified_share, data.equipment_good_share)
    assessment_id = uuid4()
    async with Assessment._meta.db.transaction():
        await Assessment.insert(Assessment(
            id=assessment_id, enterprise=data.enterprise_id, project=data.project_id, assessor=data.assessor.strip(),
            period_start=data.period_start, period_end=data.period_end, quality_behaviour=data.quality_behaviour,
            personnel_certified_share=data.personnel_certified_share, equipment_good_share=data.equipment_good_share,
            composite=value, points=points(value), recorded_by=actor.id, recorded_at=utcnow()))
        await credit_service.record_event(
            data.enterprise_id, ASSESSMENT_KIND, f"assessment:{assessment_id}", settings=settings, arq=arq,
            project_id=data.project_id, points=points(value), recorded_by=actor.id, actor=actor,
            note=f"{data.assessor.strip()} {data.period_start}–{data.period_end} 综合 {value}")
    return _out(await Assessment.select().where(Assessment.id == assessment_id).first())


async def list_for_enterprise(actor: Principal, enterprise_id: UUID) -> list[AssessmentOut]:
    """An enterprise's assessments, newest period first (staff; a district's staff see their district's projects)."""
    district = access_scope.staff_district(actor)
    query = Assessment.select().where(Assessment.enterprise == enterprise_id)
    if district is not None:
        query = query.where(Assessment.project.district == district)
    return [_out(r) for r in await query.order_by(Assessment.period_end, ascending=False).limit(200)]


def personnel_flags(people: list[dict[str, Any]], today: date) -> list[dict[str, str]]:
    """Missing required roles and expired certificates (pure)."""
    flags = []
    present = {p["role"] for p in people}
    for role in REQUIRED_ROLES:
        if role not in present:
            flags.append({"role": role, "role_zh": ROLE_ZH[role], "flag": "missing", "name": ""})
    for p in people:
        if p["expires_on"] < today:
            flags.append({"role": p["role"], "role_zh": ROLE_ZH.get(p["role"], p["role"]), "flag": "expired",
                          "name": p["name"]})
    return flags


async def personnel_of(settings: Settings, project_id: UUID) -> KeyPersonnelOut:
    """A project's key personnel with their flags (no access check)."""
    rows = await KeyPerson.select().where(KeyPerson.project == project_id).order_by(KeyPerson.role, KeyPerson.name)
    today = utcnow().astimezone(settings.zone()).date()
    return KeyPersonnelOut(
        project_id=project_id,
        people=[KeyPersonOut(role=r["role"], name=r["name"], certificate_no=r["certificate_no"],
                             expires_on=r["expires_on"], expired=r["expires_on"] < today) for r in rows],
        flags=personnel_flags(rows, today))


async def get_personnel(settings: Settings, actor: Principal, project_id: UUID) -> KeyPersonnelOut:
    await access.check_reader(actor, await projects_service.get_project_row(project_id))
    return await personnel_of(settings, project_id)


async def replace_personnel(settings: Settings, actor: Principal, project_id: UUID, people: list[KeyPersonIn]
                            ) -> KeyPersonnelOut:
    """Set the project's key personnel (its lead, or station staff of the district); one per role."""
    project = await projects_service.get_project_row(project_id)
    await access.check_act(actor, project, frozenset({Role.PROJECT_LEAD, Role.INSPECTOR,
                                                                     Role.REGULATOR_ADMIN}), party=True)
    roles = [p.role for p in people]
    if len(set(roles)) != len(roles):
        raise BadRequest("PERSONNEL_ROLE_TWICE")
    async with KeyPerson._meta.db.transaction():
        await KeyPerson.delete().where(KeyPerson.project == project_id)
        for p in people:
            await KeyPerson.insert(KeyPerson(project=project_id, role=p.role, name=p.name.strip(),
                                             certificate_no=p.certificate_no.strip(), expires_on=p.expires_on,
                                             updated_by=actor.id))
    return await personnel_of(settings, project_id)
