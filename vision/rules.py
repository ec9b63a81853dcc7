"""Site-camera rules: upright spacing against the approved plan (立杆间距), and helmets (安全帽).

The spacing limit is the project's approved plan value (高支模专项方案), capped by the system maximum
(JGJ 166-2016 6.3.6, cup-lock: 1.5 m Q235 / 1.8 m Q345) which is only a ceiling; a measured bay is
`pass` when its whole uncertainty band lies within the limit, `fail` when the whole band lies beyond,
and `uncertain` otherwise. Only `fail` should raise an alert. A bay is `not_judged` unless the uprights on
both sides were seen with confidence (≥ `min_upright_conf`) and no detected ledger ends inside it: a
missed upright makes two bays look like one too-wide bay, and ledgers end at the uprights they join
(issue 21; the operating-point figures in vision/models/*.operating-point.json measure the effect).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from vision.calibration import Calibration
from vision.detection import PERSON_NO_HELMET, UPRIGHT, Detection

# JGJ 166-2016 6.3.6 (cup-lock, 碗扣式): upright spacing ≤ 1.5 m (Q235) / ≤ 1.8 m (Q345), "as calculated".
SYSTEM_MAX_SPACING_M: dict[str, float] = {"cuplock_q235": 1.5, "cuplock_q345": 1.8}


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNCERTAIN = "uncertain"
    NOT_JUDGED = "not_judged"  # an end of the bay is not seen with confidence: no verdict either way


@dataclass(frozen=True, slots=True)
class SpacingRule:
    """A project's spacing check: plan value, system ceiling, allowance and the measurement model."""

    plan_spacing_m: float
    system_max_m: float | None = None
    allowance_m: float = 0.0  # construction tolerance the project accepts; no national value coded
    k_sigma: float = 3.0  # half-width of the band in standard deviations
    box_jitter_px: float = 2.0  # 1-σ error of a box centre (detector jitter)
    merge_within_m: float = 0.15  # two boxes closer than this on the plane are one upright
    min_upright_conf: float = 0.0  # both uprights of a judged bay at least this confident, else not judged

    @property
    def limit_m(self) -> float:
        return spacing_limit_m(self.plan_spacing_m, self.system_max_m, self.allowance_m)


@dataclass(frozen=True, slots=True)
class BayVerdict:
    """One bay between adjacent uprights (indices into the input boxes), measured and judged."""

    left: int
    right: int
    measured_m: float
    sigma_m: float
    low_m: float
    high_m: float
    limit_m: float
    outcome: Outcome
    reason: str = ""  # why not judged: upright_unsure | ledger_ends_inside


@dataclass(frozen=True, slots=True)
class SafetyRisk:
    """A safety risk seen in a frame (e.g. a worker without a helmet), with its evidence box."""

    kind: str
    detection: Detection


def spacing_limit_m(plan_spacing_m: float, system_max_m: float | None, allowance_m: float = 0.0) -> float:
    """The governing limit: the plan value, never above the system ceiling, plus the allowance."""
    if plan_spacing_m <= 0:
        raise ValueError("plan spacing must be positive")
    limit = plan_spacing_m if system_max_m is None else min(plan_spacing_m, system_max_m)
    return limit + allowance_m


def judge_spacing(measured_m: float, sigma_m: float, limit_m: float, k_sigma: float = 3.0) -> Outcome:
    """pass if measured + kσ ≤ limit; fail if measured − kσ > limit; uncertain in between."""
    if measured_m + k_sigma * sigma_m <= limit_m:
        return Outcome.PASS
    if measured_m - k_sigma * sigma_m > limit_m:
        return Outcome.FAIL
    return Outcome.UNCERTAIN


def robust_sigma(values: np.ndarray) -> float:
    """Half the central 68 % range: a standard deviation that a few wild ensemble members don't inflate."""
    lo, hi = np.percentile(np.asarray(values, dtype=np.float64), [15.865, 84.135])
    return float(hi - lo) / 2.0


def upright_positions(
    boxes_px: np.ndarray, calibration: Calibration, box_jitter_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane x (m) of each upright's axis from its box centre; ensemble x (K × N); jitter σ (m) each.

    The box centre of a thin tube lies on its axis whatever the tilt, and every point of an upright's
    axis has the same plane x, so the centre is the robust point to map.
    """
    boxes = np.asarray(boxes_px, dtype=np.float64).reshape(-1, 4)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    x = calibration.to_plane(centres)[:, 0]
    x_ens = calibration.to_plane_ensemble(centres)[..., 0]
    jitter = np.array(
        [box_jitter_px * float(np.hypot(*calibration.metres_per_pixel(tuple(c))[0])) for c in centres]
    )
    return x, x_ens, jitter


def check_upright_spacing(
    uprights: Sequence[Detection],
    calibration: Calibration,
    rule: SpacingRule,
    image_width: float | None = None,
    edge_margin_px: float = 1.0,
    ledgers: Sequence[Detection] = (),
) -> list[BayVerdict]:
    """Judge every bay between adjacent uprights (ordered along the plane) against the rule.

    With `image_width`, a box cut by the left or right image edge is left out: its centre is no
    longer on the tube's axis (and the bay beside it is not judged). A bay with an upright under
    `rule.min_upright_conf` at either end, or with the end of one of `ledgers` inside it (a ledger ends
    at an upright: one was missed there), is `not_judged`.
    """

    def usable(d: Detection) -> bool:
        if d.class_id != UPRIGHT:
            return False
        return image_width is None or (d.x1 > edge_margin_px and d.x2 < image_width - edge_margin_px)

    dets = [d for d in uprights if usable(d)]
    index = [i for i, d in enumerate(uprights) if usable(d)]
    if len(dets) < 2:
        return []
    boxes = np.array([[d.x1, d.y1, d.x2, d.y2] for d in dets])
    x, x_ens, jitter = upright_positions(boxes, calibration, rule.box_jitter_px)
    order = list(np.argsort(x, kind="stable"))
    kept: list[int] = []
    for j in order:  # a double detection of one upright must not make a 0 m bay
        if kept and abs(x[j] - x[kept[-1]]) < rule.merge_within_m:
            if dets[j].confidence > dets[kept[-1]].confidence:
                kept[-1] = j
            continue
        kept.append(j)
    limit = rule.limit_m
    ends = ledger_ends_m(ledgers, calibration, image_width, edge_margin_px)
    verdicts = []
    for a, b in itertools.pairwise(kept):
        measured = float(abs(x[b] - x[a]))
        calib_sigma = robust_sigma(np.abs(x_ens[:, b] - x_ens[:, a])) if len(x_ens) else 0.0
        sigma = float(np.sqrt(calib_sigma**2 + jitter[a] ** 2 + jitter[b] ** 2))
        reason = ""
        if min(dets[a].confidence, dets[b].confidence) < rule.min_upright_conf:
            reason = "upright_unsure"
        elif any(x[a] + rule.merge_within_m < e < x[b] - rule.merge_within_m for e in ends):
            reason = "ledger_ends_inside"
        verdicts.append(
            BayVerdict(
                left=index[a],
                right=index[b],
                measured_m=measured,
                sigma_m=sigma,
                low_m=measured - rule.k_sigma * sigma,
                high_m=measured + rule.k_sigma * sigma,
                limit_m=limit,
                outcome=Outcome.NOT_JUDGED if reason else judge_spacing(measured, sigma, limit, rule.k_sigma),
                reason=reason,
            )
        )
    return verdicts


def ledger_ends_m(
    ledgers: Sequence[Detection], calibration: Calibration, image_width: float | None, edge_margin_px: float = 1.0
) -> list[float]:
    """Plane x (m) of the ends of the ledgers (each box's left and right end at its mid-height), leaving
    out an end cut by the image edge (the ledger goes on beyond it)."""
    pts = []
    for d in ledgers:
        yc = (d.y1 + d.y2) / 2
        if d.x1 > edge_margin_px:
            pts.append((d.x1, yc))
        if image_width is None or d.x2 < image_width - edge_margin_px:
            pts.append((d.x2, yc))
    if not pts:
        return []
    return [float(v) for v in calibration.to_plane(np.asarray(pts, dtype=np.float64))[:, 0]]


def helmet_risks(detections: Sequence[Detection], min_confidence: float = 0.5) -> list[SafetyRisk]:
    """Every person detected without a helmet at or above `min_confidence` is a safety risk."""
    return [
        SafetyRisk("no_helmet", d)
        for d in detections
        if d.class_id == PERSON_NO_HELMET and d.confidence >= min_confidence
    ]
