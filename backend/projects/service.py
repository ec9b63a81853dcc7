"""Projects (工程项目): registry, parties, project leads, and who may see which project."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from asyncpg.exceptions import UniqueViolationError

from backend.access import policy
from backend.access.scope import project_scope
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.db import utcnow
from backend.districts import service as districts_service
from backend.districts.schemas import Location
from backend.enterprises import service as enterprises_service
from backend.errors import BadRequest, Conflict, NotFound
from backend.geo.coords import CoordType, to_gcj02
from backend.geo.distance import bbox, haversine_m
from backend.geo.districts import distance_to_polygon_m, parse_polygon
from backend.projects.schemas import (
    PARTY_ROLE_KIND,
    LeadOut,
    NearbyProject,
    PartyIn,
    PartyOut,
    PartyRole,
    ProjectBrief,
    ProjectCreate,
    ProjectOut,
    ProjectStatus,
    ProjectUpdate,
)
from backend.projects.tables import Project, ProjectLead, ProjectParty

# A site's reference point may sit at the gate, just outside its fence.
_LOCATION_FENCE_TOLERANCE_M = 200.0
MAX_NEARBY_RADIUS_M = 5_000.0


def fence_to_gcj02(geofence: dict[str, Any], coord_type: CoordType) -> dict[str, Any]:
    """Validate a GeoJSON polygon given in coord_type and return it in GCJ-02."""
    parse_polygon(geofence)  # shape checks on the input as given
    polygon = geofence.get("geometry", geofence) if geofence.get("type") == "Feature" else geofence
    rings = [[list(to_gcj02(x, y, coord_type)) for x, y, *_ in ring] for ring in polygon["coordinates"]]
    converted = {"type": "Polygon", "coordinates": rings}
    parse_polygon(converted)
    return converted


def _brief(row: dict[str, Any]) -> ProjectBrief:
    return ProjectBrief(
        id=row["id"],
        name=row["name"],
        permit_no=row["permit_no"],
        address=row["address"],
        district_adcode=row["district"],
        status=ProjectStatus(row["status"]),
        location=(row["lng"], row["lat"]),
        stage=row["stage"],
    )


async def _row(project_id: UUID) -> dict[str, Any]:
    row = await Project.select().where(Project.id == project_id).output(load_json=True).first()
    if row is None:
        raise NotFound("PROJECT_NOT_FOUND")
    return row


async def _parties(project_id: UUID) -> list[PartyOut]:
    rows = await ProjectParty.select(
        ProjectParty.enterprise,
        ProjectParty.role,
        ProjectParty.enterprise.name.as_alias("enterprise_name"),
        ProjectParty.enterprise.uscc.as_alias("uscc"),
    ).where(ProjectParty.project == project_id).order_by(ProjectParty.id)
    return [
        PartyOut(enterprise_id=r["enterprise"], enterprise_name=r["enterprise_name"], uscc=r["uscc"], role=PartyRole(r["role"]))
        for r in rows
    ]


async def _leads(project_id: UUID) -> list[LeadOut]:
    rows = await ProjectLead.select(
        ProjectLead.user, ProjectLead.user.display_name.as_alias("display_name")
    ).where(ProjectLead.project == project_id).order_by(ProjectLead.id)
    return [LeadOut(user_id=r["user"], display_name=r["display_name"]) for r in rows]


async def _out(row: dict[str, Any]) -> ProjectOut:
    return ProjectOut(
        id=row["id"],
        name=row["name"],
        permit_no=row["permit_no"],
        address=row["address"],
        district_adcode=row["district"],
        status=ProjectStatus(row["status"]),
        location=(row["lng"], row["lat"]),
        geofence=row["geofence"],
        parties=await _parties(row["id"]),
        leads=await _leads(row["id"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        stage=row["stage"],
    )


async def _check_parties(parties: list[PartyIn]) -> None:
    kinds = await enterprises_service.kinds_of(list({p.enterprise_id for p in parties}))
    for party in parties:
        if party.enterprise_id not in kinds:
            raise NotFound("ENTERPRISE_NOT_FOUND", detail={"enterprise_id": str(party.enterprise_id)})
        if PARTY_ROLE_KIND[party.role].value not in kinds[party.enterprise_id]:
            raise BadRequest(
                "PARTY_ROLE_MISMATCH", detail={"enterprise_id": str(party.enterprise_id), "role": party.role.value}
            )


async def _check_leads(user_ids: list[UUID]) -> None:
    if not user_ids:
        return
    rows = await User.select(User.id, User.role).where(User.id.is_in(list(set(user_ids))))
    found = {r["id"]: r["role"] for r in rows}
    for uid in user_ids:
        if uid not in found:
            raise NotFound("USER_NOT_FOUND", detail={"user_id": str(uid)})
        if found[uid] != Role.PROJECT_LEAD.value:
            raise BadRequest("USER_NOT_PROJECT_LEAD_ROLE", detail={"user_id": str(uid)})


async def create_project(actor: Principal, data: ProjectCreate) -> ProjectOut:
    """Register a project; its district comes from the request or from its location."""
    policy.require(actor, "staff", {})
    lng, lat = to_gcj02(data.location.lng, data.location.lat, data.location.coord_type)
    district = data.district_adcode
    if district is None:
        district = await districts_service.locate_adcode(lng, lat)
        if district is None:
            raise BadRequest("OUTSIDE_DISTRICTS", detail={"gcj02": [lng, lat]})
    else:
        await districts_service.require_known(district)
    policy.require(actor, "station", {"district": district})
    fence = None
    if data.geofence is not None:
        fence = fence_to_gcj02(data.geofence, data.location.coord_type)
        if distance_to_polygon_m(parse_polygon(fence), lng, lat) > _LOCATION_FENCE_TOLERANCE_M:
            raise BadRequest("LOCATION_OUTSIDE_FENCE")
    await _check_parties(data.parties)
    await _check_leads(data.lead_user_ids)
    project = Project(
        name=data.name.strip(),
        permit_no=data.permit_no.upper(),
        address=data.address,
        lng=lng,
        lat=lat,
        geofence=fence,
        district=district,
        status=data.status.value,
        # A planned project is registered at 立项 and waits for its permit, a completed one at 竣工验收; any other
        # is registered as started (status follows the stage: see STATUS_OF_STAGE).
        stage=_STAGE_AT_REGISTRATION.get(data.status, "started"),
        created_by=actor.id,
    )
    try:
        async with Project._meta.db.transaction():
            await project.save()
            for party in {(p.enterprise_id, p.role) for p in data.parties}:
                await ProjectParty.insert(ProjectParty(project=project.id, enterprise=party[0], role=party[1].value))
            for uid in dict.fromkeys(data.lead_user_ids):
                await ProjectLead.insert(ProjectLead(project=project.id, user=uid))
    except UniqueViolationError as exc:
        raise Conflict("PERMIT_DUPLICATE") from exc
    return await _out(await _row(project.id))


async def get_project(actor: Principal, project_id: UUID) -> ProjectOut:
    row = await _row(project_id)
    await policy.check(actor, "read_project", row)
    return await _out(row)


async def get_project_row(project_id: UUID) -> dict[str, Any]:
    """The raw project row, for other domains' services (no access check)."""
    return await _row(project_id)


async def list_projects(
    actor: Principal,
    *,
    district: int | None,
    status: ProjectStatus | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[ProjectBrief]]:
    """Projects visible to the actor (the policy's scope, as read_project), newest first."""
    clauses = project_scope(actor, district).where(Project.id, Project.district)
    if status is not None:
        clauses.append(Project.status == status.value)
    if q:
        needle = q.strip()
        clauses.append(Project.name.ilike(f"%{needle}%") | (Project.permit_no == needle.upper()))
    query = Project.select(*Project.all_columns(exclude=[Project.geofence]))
    count = Project.count()
    for clause in clauses:
        query = query.where(clause)
        count = count.where(clause)
    rows = await query.order_by(Project.created_at, ascending=False).limit(limit).offset(offset)
    return await count, [_brief(r) for r in rows]


# Project.status follows the stage (backend.lifecycle.rules.Stage, moved only by /projects/{id}/stage); the one
# status a PATCH may set on its own is 停工 (a stop-work order) on a project under construction, and lift it.
STATUS_OF_STAGE = {
    "approved": ProjectStatus.PLANNED, "permitted": ProjectStatus.PLANNED,
    "started": ProjectStatus.UNDER_CONSTRUCTION, "foundation_accepted": ProjectStatus.UNDER_CONSTRUCTION,
    "structure_accepted": ProjectStatus.UNDER_CONSTRUCTION,
    "completion_accepted": ProjectStatus.COMPLETED, "filed": ProjectStatus.COMPLETED,
}
_STAGE_AT_REGISTRATION = {ProjectStatus.PLANNED: "approved", ProjectStatus.COMPLETED: "completion_accepted"}


def status_change_allowed(stage: str, current: str, wanted: ProjectStatus) -> list[str]:
    """The statuses a PATCH may set on a project at ``stage`` with status ``current`` (wanted is allowed if in it)."""
    derived = STATUS_OF_STAGE.get(stage, ProjectStatus(current))
    allowed = [current]
    if derived == ProjectStatus.UNDER_CONSTRUCTION:
        allowed.append(ProjectStatus.SUSPENDED.value if current != ProjectStatus.SUSPENDED.value
                       else ProjectStatus.UNDER_CONSTRUCTION.value)
    return allowed


async def update_project(actor: Principal, project_id: UUID, data: ProjectUpdate) -> ProjectOut:
    row = await _row(project_id)
    policy.require(actor, "station", row)
    changes: dict[Any, Any] = {}
    if data.status is not None and data.status.value != row["status"]:
        allowed = status_change_allowed(row["stage"], row["status"], data.status)
        if data.status.value not in allowed:
            raise Conflict("PROJECT_STATUS_FOLLOWS_STAGE", detail={
                "stage": row["stage"], "status": row["status"], "allowed": allowed})
        changes[Project.status] = data.status.value
    if data.name is not None:
        changes[Project.name] = data.name.strip()
    if data.address is not None:
        changes[Project.address] = data.address
    if data.geofence is not None:
        fence = fence_to_gcj02(data.geofence, data.geofence_coord_type)
        if distance_to_polygon_m(parse_polygon(fence), row["lng"], row["lat"]) > _LOCATION_FENCE_TOLERANCE_M:
            raise BadRequest("LOCATION_OUTSIDE_FENCE")
        changes[Project.geofence] = fence
    if changes:
        changes[Project.updated_at] = utcnow()
        await Project.update(changes).where(Project.id == project_id)
    return await _out(await _row(project_id))


async def replace_parties(actor: Principal, project_id: UUID, parties: list[PartyIn]) -> ProjectOut:
    """Set the project's parties to exactly this list (one transaction)."""
    row = await _row(project_id)
    policy.require(actor, "station", row)
    await _check_parties(parties)
    async with Project._meta.db.transaction():
        await ProjectParty.delete().where(ProjectParty.project == project_id)
        for enterprise_id, role in {(p.enterprise_id, p.role) for p in parties}:
            await ProjectParty.insert(ProjectParty(project=project_id, enterprise=enterprise_id, role=role.value))
        await Project.update({Project.updated_at: utcnow()}).where(Project.id == project_id)
    return await _out(await _row(project_id))


async def add_lead(actor: Principal, project_id: UUID, user_id: UUID) -> ProjectOut:
    row = await _row(project_id)
    policy.require(actor, "station", row)
    await _check_leads([user_id])
    if not await ProjectLead.exists().where((ProjectLead.project == project_id) & (ProjectLead.user == user_id)):
        try:
            await ProjectLead.insert(ProjectLead(project=project_id, user=user_id))
        except UniqueViolationError:
            pass  # added concurrently: the outcome is the same
    return await _out(await _row(project_id))


async def remove_lead(actor: Principal, project_id: UUID, user_id: UUID) -> ProjectOut:
    row = await _row(project_id)
    policy.require(actor, "station", row)
    await ProjectLead.delete().where((ProjectLead.project == project_id) & (ProjectLead.user == user_id))
    return await _out(await _row(project_id))


# Stages before the construction permit (施工许可): 《建筑工程施工许可管理办法》(住建部令第18号) 第二条/第三条 —
# no work may start on a site without one. Stage values are backend.lifecycle.rules.Stage.
PRE_PERMIT_STAGES = frozenset({"approved"})


async def require_site_activity(project_id: UUID) -> None:
    """The one gate for site activity (clock-ins, material entry, sensors): refused before a permit.

    A project that does not exist passes here: the caller's own lookup refuses it with its own code.
    """
    row = await Project.select(Project.stage).where(Project.id == project_id).first()
    if row is not None:
        check_site_activity(project_id, row["stage"])


def check_site_activity(project_id: UUID, stage: str) -> None:
    """require_site_activity for a caller that read the project's stage in a statement of its own."""
    if stage in PRE_PERMIT_STAGES:
        raise Conflict("PROJECT_NO_PERMIT", detail={"project_id": str(project_id), "stage": stage,
                                                    "link": f"/api/v1/projects/{project_id}/stage"})


async def lead_user_ids(project_id: UUID) -> list[UUID]:
    """Users to alert about this project (used by notifications, alarms, vision)."""
    rows = await ProjectLead.select(ProjectLead.user).where(ProjectLead.project == project_id)
    return [r["user"] for r in rows]


async def general_contractor_ids(project_id: UUID) -> list[UUID]:
    """The project's general contractors (施工总承包), in a stable order."""
    rows = await ProjectParty.select(ProjectParty.enterprise).where(
        (ProjectParty.project == project_id) & (ProjectParty.role == PartyRole.GENERAL_CONTRACTOR.value))
    return sorted((r["enterprise"] for r in rows), key=str)


async def nearby(point: Location, radius_m: float, limit: int = 20) -> list[NearbyProject]:
    """Projects under construction near a point, nearest first (for a citizen picking a site)."""
    if radius_m > MAX_NEARBY_RADIUS_M:
        raise BadRequest("RADIUS_TOO_LARGE", detail={"max_m": MAX_NEARBY_RADIUS_M})
    lng, lat = to_gcj02(point.lng, point.lat, point.coord_type)
    min_lng, min_lat, max_lng, max_lat = bbox(lng, lat, radius_m)
    rows = await Project.select(Project.id, Project.name, Project.address, Project.lng, Project.lat).where(
        (Project.lng >= min_lng)
        & (Project.lng <= max_lng)
        & (Project.lat >= min_lat)
        & (Project.lat <= max_lat)
        & (Project.status != ProjectStatus.COMPLETED.value)
    )
    found = [
        NearbyProject(id=r["id"], name=r["name"], address=r["address"], distance_m=round(d, 1))
        for r in rows
        if (d := haversine_m(lng, lat, r["lng"], r["lat"])) <= radius_m
    ]
    return sorted(found, key=lambda p: p.distance_m)[:limit]

