"""Request/response types of the materials API (msgspec; unknown fields refused)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from backend.geo.coords import CoordType
from backend.materials.judge import ElongationType
from backend.materials.rules import Material, Status
from backend.schema import Schema

Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Positive = Annotated[float, msgspec.Meta(gt=0, le=1e9)]
Strength = Annotated[float, msgspec.Meta(ge=0, le=10_000)]


class BatchCreate(Schema):
    material: Material
    grade: Annotated[str, msgspec.Meta(min_length=2, max_length=32)]
    manufacturer_id: UUID
    production_batch_no: Text64
    production_date: date
    quantity: Positive
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    project_id: UUID
    spec: Annotated[str, msgspec.Meta(max_length=64)] = ""


class BatchOut(Schema):
    id: UUID
    material: Material
    grade: str
    spec: str
    manufacturer_id: UUID
    manufacturer_name: str
    production_batch_no: str
    production_date: date
    quantity: float
    unit: str
    project_id: UUID
    district_adcode: int
    status: Status
    usable: bool
    has_certificate: bool
    created_at: datetime
    updated_at: datetime
    use_decision_id: UUID | None = None  # the supervisor decision that lets a partially checked batch be used


class BatchPage(Schema):
    total: int
    items: list[BatchOut]


class TransportLegIn(Schema):
    vehicle: Annotated[str, msgspec.Meta(min_length=2, max_length=16)]
    origin: Text128
    destination: Text128
    departed_at: datetime
    arrived_at: datetime | None = None
    track: list[tuple[float, float]] | None = None  # [lng, lat] points
    coord_type: CoordType = CoordType.WGS84


class EntryInspectionIn(Schema):
    accepted: bool
    quantity_received: Positive | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SamplingIn(Schema):
    sample_no: Text64
    sampled_by: Text64
    lab_id: UUID | None = None


class RebarSpecimen(Schema):
    yield_strength: Strength | None = None
    tensile_strength: Strength | None = None
    elongation: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    max_force_elongation: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    bend_ok: bool | None = None  # 弯曲试验: no crack on the bent part


class CementMeasured(Schema):
    compressive_3d: Strength | None = None
    compressive_28d: Strength | None = None
    flexural_3d: Strength | None = None
    flexural_28d: Strength | None = None
    initial_setting_min: Annotated[float, msgspec.Meta(ge=0, le=10_000)] | None = None
    final_setting_min: Annotated[float, msgspec.Meta(ge=0, le=10_000)] | None = None
    chloride_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    soundness_ok: bool | None = None
    so3_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    mgo_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    loss_on_ignition_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None


Cubes = Annotated[list[Strength], msgspec.Meta(min_length=3, max_length=3)]


class ConcreteMeasured(Schema):
    """Groups of one inspection lot's concrete: each the 3 cube strengths of a group (4.3.1 picks the group's
    value) or, from older reports, the group's representative value."""

    groups: Annotated[list[Strength | Cubes], msgspec.Meta(min_length=1, max_length=500)]
    sigma0: Annotated[float, msgspec.Meta(gt=0, le=50)] | None = None
    mix_no: Annotated[str, msgspec.Meta(max_length=64)] = ""  # 配合比编号
    age_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 28
    cast_date: date | None = None  # 成型日期 (defaults to 28 days before the report date)


class ReportIn(Schema):
    report_no: Text64
    report_date: date
    sample_no: Annotated[str, msgspec.Meta(max_length=64)] = ""
    rebar: Annotated[list[RebarSpecimen], msgspec.Meta(min_length=1, max_length=20)] | None = None
    cement: CementMeasured | None = None
    concrete: ConcreteMeasured | None = None
    membrane: dict[str, float] | None = None
    diameter_mm: Annotated[float, msgspec.Meta(ge=6, le=60)] | None = None  # rebar: else read from the batch spec
    elongation_type: ElongationType | None = None  # rebar: A or Agt as agreed (GB/T 1499.2-2018 7.4.4)
    retest_of: UUID | None = None  # the failed report this one retests on double samples


class PropertyOut(Schema):
    property: str
    name: str
    value: float | None
    op: str
    limit: float | None
    unit: str
    clause: str
    result: str  # pass | fail | not_checked
    sample: int | None = None
    note: str = ""


class ReportOut(Schema):
    id: UUID
    batch_id: UUID
    report_no: str
    report_date: date
    lab_id: UUID
    lab_name: str
    standard: str
    method: str
    verdict: str
    results: list[PropertyOut]
    batch_status: Status
    created_at: datetime
    state: str = "active"  # active | voided | superseded
    state_reason: str = ""
    retest_of: UUID | None = None
    supersedes: UUID | None = None
    lot_key: str = ""


class VoidIn(Schema):
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=500)]


class CorrectIn(Schema):
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=500)]
    report: ReportIn


class UseDecisionIn(Schema):
    accept: bool
    reason: Annotated[str, msgspec.Meta(min_length=4, max_length=500)]


class UseDecisionOut(Schema):
    id: UUID
    batch_id: UUID
    accepted: bool
    reason: str
    decided_by: UUID | None
    decider_name: str
    unchecked: list[dict[str, Any]]
    decided_at: datetime
    lapsed: bool
    batch_status: Status
    usable: bool


class LotOut(Schema):
    lot_key: str
    project_id: UUID
    grade: str
    mix_no: str
    age_days: int
    period_start: date
    period_end: date
    groups: int
    method: str
    verdict: str
    results: list[PropertyOut]
    batch_ids: list[UUID]


class UseIn(Schema):
    building: Text64
    element: Text64
    floor: Annotated[str, msgspec.Meta(max_length=32)] = ""
    quantity: Positive | None = None


class LabelsIn(Schema):
    bundles: Annotated[int, msgspec.Meta(ge=0, le=500)] = 0


class LabelOut(Schema):
    id: UUID
    batch_id: UUID
    serial: int
    token: str
    content: str
    revoked: bool
    scan_count: int


class RevokeIn(Schema):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]


class ScanLocation(Schema):
    lng: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    coord_type: CoordType = CoordType.WGS84


class ScanIn(Schema):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    location: ScanLocation | None = None
    project_id: UUID | None = None  # the site the scanner says they are on


class AlertOut(Schema):
    id: UUID
    kind: str
    batch_id: UUID | None
    label_id: UUID | None
    district_adcode: int | None
    detail: dict[str, Any]
    at: datetime


class CreditEventOut(Schema):
    id: UUID
    enterprise_id: UUID
    project_id: UUID | None
    kind: str
    points: int
    evidence: str
    occurred_at: datetime
    note: str
