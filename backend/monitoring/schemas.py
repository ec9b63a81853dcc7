"""Request/response types of the monitoring API (msgspec; unknown fields refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from backend.monitoring.classify import Classification, Kind
from backend.schema import Schema

Text32 = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Measure = Annotated[float, msgspec.Meta(ge=0, le=100_000)]
Ratio = Annotated[float, msgspec.Meta(gt=0, le=10)]


class WorkParameters(Schema):
    excavation_depth_m: Measure | None = None
    complex_conditions: bool = False
    height_m: Measure | None = None
    span_m: Measure | None = None
    load_kn_m2: Measure | None = None
    line_load_kn_m: Measure | None = None


class WorkCreate(Schema):
    project_id: UUID
    name: Text128
    kind: Kind
    parameters: WorkParameters
    safety_director_id: UUID | None = None  # the general contractor's 安全总监


class WorkUpdate(Schema):
    name: Text128 | None = None
    parameters: WorkParameters | None = None
    safety_director_id: UUID | None = None


class AlarmValues(Schema):
    """The designer's alarm values for one metric (any left out are filled from the defaults)."""

    cumulative_abs: Annotated[float, msgspec.Meta(gt=0, le=1e7)] | None = None
    cumulative_pct_of_depth: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    rate_per_day: Annotated[float, msgspec.Meta(gt=0, le=1e7)] | None = None
    rate_window_s: Annotated[float, msgspec.Meta(ge=60, le=30 * 86400)] | None = None
    warning_ratio: Annotated[float, msgspec.Meta(gt=0, lt=1)] | None = None
    danger_ratio: Annotated[float, msgspec.Meta(gt=1, le=10)] | None = None
    consecutive_rate_ratio: Annotated[float, msgspec.Meta(gt=0, lt=1)] | None = None
    consecutive_count: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    hysteresis: Annotated[float, msgspec.Meta(ge=0, lt=1)] | None = None
    clear_after: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    # issue 18: the rate's minimum span and dead band, forces as a share of the design value
    rate_min_span_s: Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)] | None = None
    rate_method: Literal["endpoints", "lsq"] | None = None
    resolution: Annotated[float, msgspec.Meta(ge=0, le=1e6)] | None = None
    dead_band_steps: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    design_value: Annotated[float, msgspec.Meta(gt=0, le=1e9)] | None = None
    design_share: Annotated[float, msgspec.Meta(gt=0, le=2)] | None = None


class PlanSubmit(Schema):
    plan_no: Text64
    alarm_values: dict[str, AlarmValues] = {}


class PlanApprove(Schema):
    expert_review: Annotated[str, msgspec.Meta(max_length=200)] = ""  # 专家论证 record, required beyond scale


class WorkOut(Schema):
    id: UUID
    project_id: UUID
    district_adcode: int
    name: str
    kind: Kind
    parameters: dict[str, Any]
    classification: Classification
    classification_reasons: list[str]
    needs_expert_review: bool
    safety_director_id: UUID | None
    plan_status: str
    plan_no: str
    plan_alarm_values: dict[str, Any]
    plan_expert_review: str
    plan_approved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PointCreate(Schema):
    code: Text32
    name: Annotated[str, msgspec.Meta(max_length=128)] = ""


class PointOut(Schema):
    id: UUID
    work_id: UUID
    code: str
    name: str
    created_at: datetime


class SensorCreate(Schema):
    metric: str
    interval_s: Annotated[int, msgspec.Meta(ge=1, le=7 * 86400)] = 3600
    silent_after_missed: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3


class SensorOut(Schema):
    id: UUID
    point_id: UUID
    project_id: UUID
    metric: str
    unit: str
    thresholds: dict[str, Any]
    threshold_sources: dict[str, str]
    interval_s: int
    silent_after_missed: int
    topic: str
    created_at: datetime
    status: str = "active"  # active | paused | retired
    # the device's broker password, only in the answer that issued it (live provisioning, issue 18)
    device_password: str | None = None


class SeriesPoint(Schema):
    t: datetime
    avg: float
    min: float
    max: float
    n: int


class Series(Schema):
    sensor_id: UUID
    metric: str
    unit: str
    bucket_s: int
    points: list[SeriesPoint]


AlarmStatus = Literal["active_unacknowledged", "acknowledged", "cleared"]


class AlarmOut(Schema):
    id: UUID
    sensor_id: UUID
    point_id: UUID
    point_code: str
    project_id: UUID
    district_adcode: int
    metric: str
    rule: str
    level: int
    level_zh: str
    max_level: int
    status: AlarmStatus
    occurrence: int
    raised_count: int
    value: float | None
    cumulative: float | None
    rate_per_day: float | None
    reasons: list[str]
    reading_ts: datetime | None
    first_at: datetime
    last_at: datetime
    acked_at: datetime | None
    acked_by: UUID | None
    cleared_at: datetime | None


class AlarmEventOut(Schema):
    kind: str
    from_level: int | None
    to_level: int | None
    from_status: str
    to_status: str
    actor: UUID | None
    note: str
    at: datetime


class AlarmDetail(Schema):
    alarm: AlarmOut
    events: list[AlarmEventOut]


class AlarmNote(Schema):
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class CommentIn(Schema):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class DeadLetterOut(Schema):
    id: int
    topic: str
    sensor_id: UUID | None
    reason: str
    detail: str
    payload: str
    received_at: datetime


# --- sensor lifecycle (issue 18) ---------------------------------------------------------------------


class ThresholdEdit(AlarmValues):
    """New values for some of a sensor's alarm fields (left out: unchanged), with the plan they come from."""

    plan_ref: Text64 = ""  # the special plan / its revision (e.g. "FA-2026-01 第2版"); required
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class BaselineSet(Schema):
    """The value cumulative changes are measured from (null: the next reading becomes the baseline)."""

    value: Annotated[float, msgspec.Meta(ge=-1e9, le=1e9)] | None
    plan_ref: Text64
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SensorAction(Schema):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    plan_ref: Annotated[str, msgspec.Meta(max_length=64)] = ""


class SensorEventOut(Schema):
    kind: str
    actor: UUID | None
    plan_ref: str
    note: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: datetime


class SensorDetail(Schema):
    sensor: SensorOut
    status: str
    events: list[SensorEventOut]
