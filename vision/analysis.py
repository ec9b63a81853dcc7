"""One frame through the runtime path: detector (ONNX, no torch) → helmet and spacing rules → evidence image.

The same function serves frames pulled from cameras and frames uploaded through the API; the camera's
stored calibration measurements are turned into a `Calibration` here (pure and seeded, so the same
measurements always give the same band).
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import cv2
import numpy as np

from backend.cameras.schemas import Analysis, BayOut, DetectionOut, RuleResult
from vision.calibration import Calibration, calibrate_from_scale, calibrate_from_target, calibrate_from_tube
from vision.detection import CLASSES, LEDGER, PERSON_NO_HELMET, UPRIGHT, Detection
from vision.detector import Detector
from vision.rules import SYSTEM_MAX_SPACING_M, Outcome, SpacingRule, check_upright_spacing, helmet_risks

EVIDENCE_JPEG_QUALITY = 85
# BGR per class: upright, ledger, beam, formwork_panel, person_helmet, person_no_helmet
_COLOURS = [(255, 200, 0), (200, 160, 60), (0, 160, 255), (180, 120, 200), (0, 200, 0), (0, 0, 255)]
_OUTCOME_COLOURS = {Outcome.PASS: (0, 200, 0), Outcome.FAIL: (0, 0, 255), Outcome.UNCERTAIN: (0, 200, 255),
                    Outcome.NOT_JUDGED: (160, 160, 160)}


def calibration_from(stored: dict[str, Any] | None) -> Calibration | None:
    """The camera's Calibration from its stored measurements (see backend.cameras.schemas.CalibrationIn).

    Pure and seeded, so it is built once per distinct measurements (a camera's every frame reuses it;
    its arrays are read-only)."""
    if not stored:
        return None
    return _calibration_cached(json.dumps(stored, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _calibration_cached(key: str) -> Calibration:
    cal = _calibration_built(json.loads(key))
    cal.image_to_plane.flags.writeable = False
    cal.ensemble.flags.writeable = False
    return cal


def _calibration_built(stored: dict[str, Any]) -> Calibration:
    kind = stored["kind"]
    rectify = np.asarray(stored["rectify"], dtype=np.float64) if stored.get("rectify") else None
    if kind == "target":
        return calibrate_from_target(
            np.asarray(stored["corners_px"]), np.asarray(stored["corners_m"]), stored.get("corner_sigma_px", 0.5)
        )
    if kind == "tube":
        return calibrate_from_tube(np.asarray(stored["widths_px"]), stored.get("width_sigma_px", 0.5), rectify)
    if kind == "scale":
        return calibrate_from_scale(stored["pixels_per_metre"], stored.get("scale_sigma_rel", 0.01), rectify)
    raise ValueError(f"unknown calibration kind {kind!r}")


def _det_out(d: Detection) -> DetectionOut:
    return DetectionOut(
        cls=d.class_name, box=[round(v, 2) for v in (d.x1, d.y1, d.x2, d.y2)], confidence=round(d.confidence, 4)
    )


def _spacing_verdict(outcomes: list[Outcome]) -> str:
    """fail if any bay fails, else uncertain if any is, else pass if any passes, else not_judged."""
    for outcome in (Outcome.FAIL, Outcome.UNCERTAIN, Outcome.PASS):
        if outcome in outcomes:
            return outcome.value
    return Outcome.NOT_JUDGED.value


def analyse(
    detector: Detector,
    image: np.ndarray,
    camera: dict[str, Any],
    helmet_conf: float = 0.5,
    calibration: Calibration | None = None,
    upright_conf: float = 0.0,
    ledger_guard: bool = False,
) -> tuple[Analysis, list[Detection]]:
    """Detect, apply both rules with the camera's plan value, calibration and thresholds (the worker
    passes the camera's own or the shipped defaults); the Analysis and raw boxes."""
    h, w = image.shape[:2]
    t0 = time.perf_counter()
    dets = detector.detect(image)
    inference_ms = (time.perf_counter() - t0) * 1000.0
    risks = helmet_risks(dets, helmet_conf)
    rules = [RuleResult(rule="no_helmet", verdict="fail" if risks else "pass")]
    bays: list[BayOut] = []
    cal = calibration if calibration is not None else calibration_from(camera.get("calibration"))
    plan = camera.get("plan_spacing_m")
    uprights = [d for d in dets if d.class_id == UPRIGHT]
    if plan is None:
        rules.append(RuleResult(rule="spacing", verdict="not_checked", reason="no_plan_value"))
    elif cal is None:
        rules.append(RuleResult(rule="spacing", verdict="not_checked", reason="no_calibration"))
    else:
        rule = SpacingRule(
            plan_spacing_m=float(plan),
            system_max_m=SYSTEM_MAX_SPACING_M.get(camera.get("support_system") or ""),
            allowance_m=float(camera.get("allowance_m") or 0.0),
            min_upright_conf=upright_conf,
        )
        ledgers = [d for d in dets if d.class_id == LEDGER] if ledger_guard else []
        verdicts = check_upright_spacing(uprights, cal, rule, image_width=w, ledgers=ledgers)
        if not verdicts:
            rules.append(RuleResult(rule="spacing", verdict="not_checked", reason="fewer_than_two_uprights"))
        else:
            for v in verdicts:
                a, b = uprights[v.left], uprights[v.right]
                bays.append(BayOut(
                    left=[round(x, 2) for x in (a.x1, a.y1, a.x2, a.y2)],
                    right=[round(x, 2) for x in (b.x1, b.y1, b.x2, b.y2)],
                    measured_m=round(v.measured_m, 4), sigma_m=round(v.sigma_m, 4), low_m=round(v.low_m, 4),
                    high_m=round(v.high_m, 4), limit_m=round(v.limit_m, 4), outcome=v.outcome.value,
                    reason=v.reason,
                ))
            verdict = _spacing_verdict([v.outcome for v in verdicts])
            rules.append(RuleResult(rule="spacing", verdict=verdict,
                                    reason="no_bay_seen_with_confidence" if verdict == "not_judged" else ""))
    analysis = Analysis(
        width=w, height=h, model=getattr(detector, "model_name", ""), detections=[_det_out(d) for d in dets],
        helmet=[_det_out(r.detection) for r in risks], bays=bays, rules=rules, inference_ms=round(inference_ms, 2),
        thresholds={"detection_conf": float(getattr(detector, "conf_threshold", 0.0)), "helmet_conf": helmet_conf,
                    "upright_conf": upright_conf, "ledger_guard": ledger_guard},
    )
    return analysis, dets


def draw_evidence(image: np.ndarray, analysis: Analysis) -> bytes:
    """The frame with every box drawn, persons without a helmet and judged bays highlighted; JPEG bytes."""
    out = image.copy()
    thick = max(1, round(max(out.shape[:2]) / 640))
    for d in analysis.detections:
        cls = CLASSES.index(d.cls) if d.cls in CLASSES else 0
        x1, y1, x2, y2 = (round(v) for v in d.box)
        colour = _COLOURS[cls % len(_COLOURS)]
        width = 3 * thick if cls == PERSON_NO_HELMET else thick
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, width)
        if cls == PERSON_NO_HELMET:
            cv2.putText(out, f"NO HELMET {d.confidence:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45 * thick, colour, thick, cv2.LINE_AA)
    for bay in analysis.bays:
        colour = _OUTCOME_COLOURS[Outcome(bay.outcome)]
        la, ra = bay.left, bay.right
        p = (round((la[0] + la[2]) / 2), round((la[1] + la[3]) / 2))
        q = (round((ra[0] + ra[2]) / 2), round((ra[1] + ra[3]) / 2))
        cv2.line(out, p, q, colour, 2 * thick, cv2.LINE_AA)
        label = f"{bay.measured_m:.2f}+-{3 * bay.sigma_m:.2f}m/{bay.limit_m:.2f}"
        mid = ((p[0] + q[0]) // 2 - 40, (p[1] + q[1]) // 2 - 6)
        cv2.putText(out, label, mid, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, colour, thick, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, EVIDENCE_JPEG_QUALITY])
    if not ok:
        raise ValueError("evidence image could not be encoded")
    return buf.tobytes()


def decode_frame(data: bytes) -> np.ndarray:
    """A camera's JPEG/PNG bytes → BGR image (ValueError when they are not an image)."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a decodable image")
    return image
