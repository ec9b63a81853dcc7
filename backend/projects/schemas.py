"""Request and response types of projects, their parties and leads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import msgspec

from backend.districts.schemas import Location
from backend.enterprises.schemas import EnterpriseKind
from backend.geo.coords import CoordType
from backend.schema import Schema


class ProjectStatus(StrEnum):
    PLANNED = "planned"  # 未开工
    UNDER_CONSTRUCTION = "under_construction"  # 在建
    SUSPENDED = "suspended"  # 停工
    COMPLETED = "completed"  # 竣工


class PartyRole(StrEnum):
    OWNER = "owner"  # 建设单位
    GENERAL_CONTRACTOR = "general_contractor"  # 施工总承包
    LABOUR_SUBCONTRACTOR = "labour_subcontractor"  # 劳务分包
    SUPERVISION = "supervision"  # 监理


# The enterprise kind a party role needs (an enterprise may hold several kinds).
PARTY_ROLE_KIND: dict[PartyRole, EnterpriseKind] = {
    PartyRole.OWNER: EnterpriseKind.OWNER,
    PartyRole.GENERAL_CONTRACTOR: EnterpriseKind.GENERAL_CONTRACTOR,
    PartyRole.LABOUR_SUBCONTRACTOR: EnterpriseKind.LABOUR_SUBCONTRACTOR,
    PartyRole.SUPERVISION: EnterpriseKind.SUPERVISION,
}

PermitNo = Annotated[str, msgspec.Meta(min_length=6, max_length=64, pattern=r"^[0-9A-Za-z\-]+$")]
ProjectName = Annotated[str, msgspec.Meta(min_length=2, max_length=128)]
Address = Annotated[str, msgspec.Meta(max_length=200)]


class PartyIn(Schema):
    enterprise_id: UUID
    role: PartyRole


class PartyOut(Schema):
    enterprise_id: UUID
    enterprise_name: str
    uscc: str
    role: PartyRole


class LeadOut(Schema):
    user_id: UUID
    display_name: str


class ProjectCreate(Schema):
    name: ProjectName
    permit_no: PermitNo
    location: Location
    address: Address = ""
    geofence: dict[str, Any] | None = None  # GeoJSON Polygon in location.coord_type
    district_adcode: int | None = None
    status: ProjectStatus = ProjectStatus.UNDER_CONSTRUCTION
    parties: Annotated[list[PartyIn], msgspec.Meta(max_length=50)] = []
    lead_user_ids: Annotated[list[UUID], msgspec.Meta(max_length=20)] = []


class ProjectUpdate(Schema):
    name: ProjectName | None = None
    address: Address | None = None
    status: ProjectStatus | None = None
    geofence: dict[str, Any] | None = None
    geofence_coord_type: CoordType = CoordType.WGS84


class PartiesReplace(Schema):
    parties: Annotated[list[PartyIn], msgspec.Meta(max_length=50)]


class LeadIn(Schema):
    user_id: UUID


class ProjectBrief(Schema):
    id: UUID
    name: str
    permit_no: str
    address: str
    district_adcode: int
    status: ProjectStatus
    location: tuple[float, float]
    stage: str = "started"  # backend.lifecycle.rules.Stage (项目阶段; moved by /api/v1/projects/{id}/stage)
    coord_type: str = "gcj02"  # the system of location (issue 19: every location the API returns says it)


class ProjectOut(Schema):
    id: UUID
    name: str
    permit_no: str
    address: str
    district_adcode: int
    status: ProjectStatus
    location: tuple[float, float]  # GCJ-02 (lng, lat)
    geofence: dict[str, Any] | None  # GeoJSON Polygon, GCJ-02
    parties: list[PartyOut]
    leads: list[LeadOut]
    created_at: datetime
    updated_at: datetime
    stage: str = "started"  # backend.lifecycle.rules.Stage (项目阶段; moved by /api/v1/projects/{id}/stage)
    coord_type: str = "gcj02"  # the system of location and geofence (issue 19: every location says it)


class NearbyProject(Schema):
    id: UUID
    name: str
    address: str
    distance_m: float
