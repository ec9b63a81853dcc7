"""Request and response types of cameras, frames, their analysis and alerts.

`Analysis` is what the vision runtime (vision/analysis.py) hands back for one frame; the backend
stores it without knowing how it was computed (backend never imports the vision entry point).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from backend.schema import Schema

Matrix3 = Annotated[list[Annotated[list[float], msgspec.Meta(min_length=3, max_length=3)]],
                    msgspec.Meta(min_length=3, max_length=3)]
Point = Annotated[list[float], msgspec.Meta(min_length=2, max_length=2)]


class Source(StrEnum):
    HTTP_SNAPSHOT = "http_snapshot"  # GET a JPEG from the camera's snapshot URL
    RTSP = "rtsp"  # one frame from the stream (OpenCV)
    UPLOAD = "upload"  # frames only arrive through the API


class SupportSystem(StrEnum):
    """Formwork support system whose maximum spacing is a ceiling on the plan value (JGJ 166-2016 6.3.6)."""

    NONE = ""
    CUPLOCK_Q235 = "cuplock_q235"
    CUPLOCK_Q345 = "cuplock_q345"


class CalibrationKind(StrEnum):
    TARGET = "target"  # ≥ 4 points of a target on the formwork plane: image px ↔ plane metres
    TUBE = "tube"  # apparent widths (px) of 48.3 mm tubes, optionally in a view rectified by `rectify`
    SCALE = "scale"  # a measured pixels-per-metre on the plane (fronto-parallel), with its relative error


class CalibrationIn(Schema):
    kind: CalibrationKind
    corners_px: Annotated[list[Point], msgspec.Meta(max_length=400)] = []
    corners_m: Annotated[list[Point], msgspec.Meta(max_length=400)] = []
    corner_sigma_px: Annotated[float, msgspec.Meta(gt=0, le=50)] = 0.5
    widths_px: Annotated[list[Annotated[float, msgspec.Meta(gt=0, le=1000)]], msgspec.Meta(max_length=200)] = []
    width_sigma_px: Annotated[float, msgspec.Meta(gt=0, le=50)] = 0.5
    pixels_per_metre: Annotated[float, msgspec.Meta(gt=0, le=100_000)] | None = None
    scale_sigma_rel: Annotated[float, msgspec.Meta(ge=0, le=0.5)] = 0.01
    rectify: Matrix3 | None = None  # image → rectified image (tube / scale kinds), known up to scale


class CameraCreate(Schema):
    project_id: UUID
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    source: Source
    url: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    interval_s: Annotated[int, msgspec.Meta(ge=5, le=86_400)] = 60
    enabled: bool = True
    plan_spacing_m: Annotated[float, msgspec.Meta(gt=0, le=3.0)] | None = None
    plan_ref: Annotated[str, msgspec.Meta(max_length=128)] = ""
    support_system: SupportSystem = SupportSystem.NONE
    allowance_m: Annotated[float, msgspec.Meta(ge=0, le=0.3)] = 0.0
    calibration: CalibrationIn | None = None
    helmet_conf: Annotated[float, msgspec.Meta(ge=0.05, le=0.99)] | None = None  # None: the shipped default (VISION_HELMET_CONF)
    upright_conf: Annotated[float, msgspec.Meta(ge=0.05, le=0.99)] | None = None  # None: the shipped default (VISION_UPRIGHT_CONF)
    label_consent: bool = False


class CameraUpdate(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    url: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    interval_s: Annotated[int, msgspec.Meta(ge=5, le=86_400)] | None = None
    enabled: bool | None = None
    plan_spacing_m: Annotated[float, msgspec.Meta(gt=0, le=3.0)] | None = None
    plan_ref: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    support_system: SupportSystem | None = None
    allowance_m: Annotated[float, msgspec.Meta(ge=0, le=0.3)] | None = None
    helmet_conf: Annotated[float, msgspec.Meta(ge=0.05, le=0.99)] | None = None
    upright_conf: Annotated[float, msgspec.Meta(ge=0.05, le=0.99)] | None = None
    label_consent: bool | None = None


class CameraOut(Schema):
    id: UUID
    project_id: UUID
    name: str
    source: Source
    url: str
    interval_s: int
    enabled: bool
    plan_spacing_m: float | None
    plan_ref: str
    support_system: SupportSystem
    allowance_m: float
    calibration: CalibrationIn | None
    last_frame_at: datetime | None
    last_error: str
    created_at: datetime
    helmet_conf: float  # in force (the camera's own, else the shipped default)
    upright_conf: float
    thresholds_default: bool  # neither threshold set on the camera
    label_consent: bool


class DetectionOut(Schema):
    cls: str
    box: list[float]  # x1, y1, x2, y2 in image px
    confidence: float


class BayOut(Schema):
    left: list[float]  # the two uprights' boxes
    right: list[float]
    measured_m: float
    sigma_m: float
    low_m: float
    high_m: float
    limit_m: float
    outcome: str  # pass | fail | uncertain | not_judged
    reason: str = ""  # why not judged: upright_unsure (an end under the camera's upright_conf) | ledger_ends_inside


class RuleResult(Schema):
    rule: str  # no_helmet | spacing
    verdict: str  # pass | fail | uncertain | not_judged | not_checked
    reason: str = ""  # why not checked (no calibration, no plan value, fewer than two uprights) or not judged


class Analysis(Schema):
    """One frame through the detector and the rules."""

    width: int
    height: int
    model: str
    detections: list[DetectionOut]
    helmet: list[DetectionOut]  # persons without a helmet at or above the rule's confidence
    bays: list[BayOut]
    rules: list[RuleResult]
    inference_ms: float
    # the thresholds in force for this frame (detection_conf, helmet_conf, upright_conf, ledger_guard)
    thresholds: dict[str, float | bool] = {}


class FrameOut(Schema):
    id: UUID
    camera_id: UUID
    source: str
    status: str  # queued | analysing | done | failed
    analysis: Analysis | None
    alerts: list[UUID]  # alerts this frame raised (a repeat within the window raises none)
    evidence_url: str | None
    error: str
    created_at: datetime
    analysed_at: datetime | None


class AlertOut(Schema):
    id: UUID
    camera_id: UUID
    camera_name: str
    project_id: UUID
    frame_id: UUID
    rule: str
    verdict: str
    measured: list[dict]
    evidence_url: str | None
    repeats: int
    created_at: datetime
    last_seen_at: datetime
    figures: dict  # thresholds in force, the model, its operating point at them (issue 21)
    review: str  # "" | confirmed | dismissed
    review_note: str
    reviewed_at: datetime | None


class ReviewVerdict(StrEnum):
    CONFIRMED = "confirmed"  # the risk is real
    DISMISSED = "dismissed"  # a false alert


class LabelBox(Schema):
    cls: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]  # a class of vision.detection.CLASSES
    box: Annotated[list[float], msgspec.Meta(min_length=4, max_length=4)]  # x1, y1, x2, y2 in image px


class AlertReview(Schema):
    """A station's or lead's verdict on an alert; `added`: boxes the model missed (e.g. an upright),
    `boxes`: the frame's whole corrected box list instead of the model's (optional)."""

    verdict: ReviewVerdict
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    added: Annotated[list[LabelBox], msgspec.Meta(max_length=200)] = []
    boxes: Annotated[list[LabelBox], msgspec.Meta(max_length=500)] | None = None


class ReviewOut(Schema):
    alert: AlertOut
    labelled: bool  # kept as a labelled frame
    not_labelled_reason: str  # no_consent | no_raw_frame | ""
    label_id: UUID | None


class CameraAlertStats(Schema):
    """One camera's alert rate and review outcome over the period; `flagged` asks for calibration or retraining."""

    camera_id: UUID
    camera_name: str
    days: int
    alerts: int
    alerts_per_day: float
    reviewed: int
    confirmed: int
    dismissed: int
    dismissed_share: float | None
    flagged: bool
    labelled_frames: int
