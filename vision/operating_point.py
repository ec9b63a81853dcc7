"""Operating-point figures: what a project lead feels at the worker's thresholds, not mAP.

    nice -n 10 python -m vision.operating_point --weights vision/models/zhijian-yolov8n.onnx \\
        --json vision/models/zhijian-yolov8n.operating-point.json

Two held-out draws are regenerated from their seeds (nothing here is trained on them):
  heldout  seed 9001, 300 `--hard` scenes (the set the mAP is stated on)
  shift    seed 9101, 300 `--hard --shift` scenes: night floodlight / low sun / haze, cameras higher and
           farther, a farther row of unlabelled tubes, nets and more stacks (vision.datagen.scene.SceneConfig)
Every frame runs through the runtime path (vision.detector, helmet stage, the worker's detection
threshold), then the two alert rules are applied over a sweep of their thresholds:
  no_helmet  a frame alerts when a `person_no_helmet` box ≥ helmet_conf; the alert is right when one of
             its boxes matches a labelled bare-headed worker (IoU ≥ 0.5). Precision and recall per alert
             (frame) and per worker; false alerts per camera-hour at the worker's alert rate (one alert per
             camera and rule per window): with p the share of frames raising a wrong alert and n frames per
             window, between windows/h × p (a still scene: the same false box every frame) and
             windows/h × (1 − (1 − p)^n) (independent frames).
  spacing    the bays the rule reports (vision.rules.check_upright_spacing with the plan value, a
             calibration fitted to the scene's true homography so only detection errors count, uprights
             under upright_conf or a ledger ending inside a bay → not judged) against the scene's true
             layout: a reported bay spans the true uprights its ends are nearest to; `fail` is wrong when no
             true bay it spans is wider than the limit (a missed upright), `pass` is wrong when one is;
             recall counts the defect bays (wider than the limit by > 5 cm) inside a right `fail`.
The thresholds are chosen on both draws pooled (600 frames; the shift draw stands in for sites the model
has not seen) against the stated targets, the lowest threshold (best recall) that meets them; the JSON holds
the sweep, the figures at the chosen and at the previous thresholds, and the same figures on the first
`--slice` scenes of each set (what tests/vision/test_operating_point.py recomputes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.detection import LEDGER, PERSON_NO_HELMET, UPRIGHT, Detection

SETS: dict[str, dict[str, Any]] = {
    "heldout": {"seed": 9001, "count": 300, "hard": True, "shift": False},
    "shift": {"seed": 9101, "count": 300, "hard": True, "shift": True},
}
SLICE = 40  # scenes of each set the test regenerates
DETECTION_CONF = 0.25  # the worker's VISION_CONF
ALERT_WINDOW_S = 600  # the worker's VISION_ALERT_WINDOW_S
CAMERA_INTERVAL_S = 60  # a camera's default interval_s
PREVIOUS = {"helmet_conf": 0.5, "upright_conf": 0.0, "ledger_guard": False}
HELMET_SWEEP = [round(0.25 + 0.05 * i, 2) for i in range(15)]  # 0.25 … 0.95
UPRIGHT_SWEEP = [0.0, *[round(0.3 + 0.05 * i, 2) for i in range(12)]]  # 0 (any box the detector keeps) … 0.85
TARGET_PRECISION = 0.9  # per alert kind: at least this share of alerts right, at the best recall
MATCH_IOU = 0.5
UPRIGHT_MATCH_M = 0.1  # a detected upright is the true one whose plane x is this close
DEFECT_M = 0.05  # a true bay wider than the limit by more than this is a defect the rule should catch


@dataclass(slots=True)
class Frame:
    """One scene's truth and its detections at the worker's detection threshold."""

    width: int
    meta: dict[str, Any]
    bare: np.ndarray  # labelled bare-headed workers, N × 4 px
    dets: list[Detection]
    calibration: Any  # vision.calibration.Calibration from the true homography, or None (no upright in view)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vision.operating_point", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("vision/models/zhijian-yolov8n.onnx"))
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    p.add_argument("--count", type=int, default=None, help="scenes per set (default: each set's count)")
    p.add_argument("--slice", type=int, default=SLICE, help="also report the first N scenes of each set")
    p.add_argument("--data", type=Path, default=None, help="generate the sets here (default: a temp folder)")
    return p


# ---------------------------------------------------------------- data


def generate(out: Path, name: str, count: int) -> Path:
    """(Re)generate the first `count` scenes of a set (image i depends only on its seed and i)."""
    from vision.datagen import write_dataset

    spec = SETS[name]
    folder = out / name
    write_dataset(folder, count, spec["seed"], hard=spec["hard"], split="test", shift=spec["shift"])
    return folder


def true_calibration(meta: dict[str, Any]):
    """A calibration fitted to points of the scene's true plane → image homography spanning its row."""
    from vision.calibration import calibrate_from_target

    xs = [u["x_m"] for u in meta["uprights"] if u["box"]]
    if not xs:
        return None
    h = np.array(meta["plane_to_image"], dtype=np.float64)
    top = max(u["top_m"] for u in meta["uprights"])
    plane = np.array([[min(xs), 0.2], [max(xs), 0.2], [max(xs), top - 0.2], [min(xs), top - 0.2]])
    if max(xs) - min(xs) < 0.3:
        plane[:, 0] += np.array([-0.5, 0.5, 0.5, -0.5])
    pts = np.concatenate([plane, np.ones((4, 1))], axis=1) @ h.T
    px = pts[:, :2] / pts[:, 2:3]
    return calibrate_from_target(px, plane, corner_sigma_px=0.5)


def collect(detector, folder: Path, count: int | None = None) -> list[Frame]:
    """Every scene of a generated set through the detector (first `count` when given)."""
    import cv2

    images = sorted((folder / "images" / "test").glob("*.jpg"))[:count]
    frames = []
    for path in images:
        meta = json.loads((folder / "meta" / "test" / f"{path.stem}.json").read_text())
        image = cv2.imread(str(path))
        bare = [p["box"] for p in meta["persons"] if not p["helmet"] and p.get("box")]
        frames.append(Frame(width=meta["width"], meta=meta, bare=np.array(bare, dtype=np.float64).reshape(-1, 4),
                            dets=detector.detect(image), calibration=true_calibration(meta)))
    return frames


# ---------------------------------------------------------------- no_helmet


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of N × 4 boxes against M × 4 boxes (x1, y1, x2, y2)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(pred: np.ndarray, truth: np.ndarray) -> int:
    """Greedy one-to-one matches (IoU ≥ 0.5) of predictions (best first) to truths; the number matched."""
    if not len(pred) or not len(truth):
        return 0
    overlap = iou(pred, truth)
    used: set[int] = set()
    hits = 0
    for row in overlap:
        for j in np.argsort(-row):
            if row[j] < MATCH_IOU:
                break
            if j not in used:
                used.add(int(j))
                hits += 1
                break
    return hits


def alert_rate(p_wrong: float) -> dict[str, float]:
    """False alerts per camera-hour for a per-frame wrong-alert share p at the worker's alert rate."""
    windows = 3600 / ALERT_WINDOW_S
    n = ALERT_WINDOW_S / CAMERA_INTERVAL_S
    return {"still_scene": round(windows * p_wrong, 4), "independent_frames": round(windows * (1 - (1 - p_wrong) ** n), 4)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def helmet_figures(frames: list[Frame], conf: float) -> dict[str, Any]:
    """The no_helmet rule at `conf`: per alert (frame) and per worker."""
    tp = fp = fn = alerts = right = positive = caught = 0
    for f in frames:
        boxes = [d for d in f.dets if d.class_id == PERSON_NO_HELMET and d.confidence >= conf]
        pred = np.array([[d.x1, d.y1, d.x2, d.y2] for d in boxes]).reshape(-1, 4)
        hits = match(pred, f.bare)
        tp, fp, fn = tp + hits, fp + len(pred) - hits, fn + len(f.bare) - hits
        if len(f.bare):
            positive += 1
        if boxes:
            alerts += 1
            if hits:
                right += 1
                caught += 1
    wrong = alerts - right
    return {
        "helmet_conf": conf, "frames": len(frames), "frames_with_bare_head": positive, "alerts": alerts,
        "alerts_right": right, "alert_precision": _ratio(right, alerts), "alert_recall": _ratio(caught, positive),
        "workers_bare": tp + fn, "boxes_right": tp, "boxes_wrong": fp, "worker_precision": _ratio(tp, tp + fp),
        "worker_recall": _ratio(tp, tp + fn), "wrong_alert_share": _ratio(wrong, len(frames)),
        "false_alerts_per_camera_hour": alert_rate(wrong / len(frames) if frames else 0.0),
    }


# ---------------------------------------------------------------- spacing


def _true_index(xs_true: np.ndarray, x: float) -> int | None:
    k = int(np.argmin(np.abs(xs_true - x)))
    return k if abs(xs_true[k] - x) <= UPRIGHT_MATCH_M else None


def spacing_figures(frames: list[Frame], upright_conf: float, ledger_guard: bool) -> dict[str, Any]:
    """The spacing rule at `upright_conf` (with or without the ledger guard) against the true layout."""
    from vision.rules import Outcome, SpacingRule, check_upright_spacing

    c = dict.fromkeys(("bays_reported", "judged", "passed", "failed", "uncertain", "not_judged", "wrongly_failed",
                       "wrongly_passed", "on_false_upright", "true_bays", "true_defect_bays",
                       "true_defects_caught", "alerts", "alerts_wrong"), 0)
    for f in frames:
        if f.calibration is None:
            continue
        plan = f.meta["plan_spacing_m"]
        rule = SpacingRule(plan_spacing_m=plan, min_upright_conf=upright_conf)
        xs_true = np.array([u["x_m"] for u in f.meta["uprights"]])
        c["true_bays"] += len(f.meta["spacings"])
        # defects: the generator's wide bays (plan + 10–60 % or a missing upright), not the 1-cm scatter
        over = {(s["left"], s["right"]) for s in f.meta["spacings"] if s["spacing_m"] > rule.limit_m + DEFECT_M}
        c["true_defect_bays"] += len(over)
        ups = [d for d in f.dets if d.class_id == UPRIGHT]
        ledgers = [d for d in f.dets if d.class_id == LEDGER] if ledger_guard else []
        verdicts = check_upright_spacing(ups, f.calibration, rule, image_width=f.width, ledgers=ledgers)
        if not verdicts:
            continue
        centres = np.array([[(d.x1 + d.x2) / 2, (d.y1 + d.y2) / 2] for d in ups])
        plane_x = f.calibration.to_plane(centres)[:, 0]
        fails = wrong_fails = 0
        caught: set[tuple[int, int]] = set()
        for v in verdicts:
            c["bays_reported"] += 1
            a, b = _true_index(xs_true, plane_x[v.left]), _true_index(xs_true, plane_x[v.right])
            if v.outcome is Outcome.NOT_JUDGED:
                c["not_judged"] += 1
                continue
            if v.outcome is Outcome.UNCERTAIN:
                c["uncertain"] += 1
                continue
            c["judged"] += 1
            if a is None or b is None or a == b:
                c["on_false_upright"] += 1
                truly_over = False
                spanned: list[tuple[int, int]] = []
            else:
                lo, hi = min(a, b), max(a, b)
                spanned = [(k, k + 1) for k in range(lo, hi)]
                truly_over = any(xs_true[k + 1] - xs_true[k] > rule.limit_m for k in range(lo, hi))
            if v.outcome is Outcome.FAIL:
                c["failed"] += 1
                fails += 1
                if truly_over:
                    caught |= {s for s in spanned if s in over}
                else:
                    c["wrongly_failed"] += 1
                    wrong_fails += 1
            else:
                c["passed"] += 1
                if truly_over:
                    c["wrongly_passed"] += 1
        c["true_defects_caught"] += len(caught)
        if fails:
            c["alerts"] += 1
            if wrong_fails == fails:
                c["alerts_wrong"] += 1
    n = len(frames)
    return {
        "upright_conf": upright_conf, "ledger_guard": ledger_guard, "frames": n, **c,
        "fail_precision": _ratio(c["failed"] - c["wrongly_failed"], c["failed"]),
        "defect_recall": _ratio(c["true_defects_caught"], c["true_defect_bays"]),
        "alert_precision": _ratio(c["alerts"] - c["alerts_wrong"], c["alerts"]),
        "wrong_alert_share": _ratio(c["alerts_wrong"], n),
        "false_alerts_per_camera_hour": alert_rate(c["alerts_wrong"] / n if n else 0.0),
    }


# ---------------------------------------------------------------- choice and report


def choose_helmet(sweep: list[dict[str, Any]]) -> tuple[float, bool]:
    """The lowest helmet_conf (best recall) whose alert precision meets the target; else the most precise."""
    for row in sweep:
        if (row["alert_precision"] or 0) >= TARGET_PRECISION:
            return row["helmet_conf"], True
    best = max(sweep, key=lambda r: (r["alert_precision"] or 0, -r["helmet_conf"]))
    return best["helmet_conf"], False


def choose_spacing(sweep: list[dict[str, Any]]) -> tuple[float, bool, bool]:
    """(upright_conf, ledger_guard, met): among settings whose fail precision meets the target, the one
    catching the most defect bays (then judging the most); else the most precise."""
    ok = [r for r in sweep if r["failed"] and (r["fail_precision"] or 0) >= TARGET_PRECISION]
    if ok:
        best = max(ok, key=lambda r: (r["true_defects_caught"], r["judged"], -r["upright_conf"]))
        return best["upright_conf"], best["ledger_guard"], True
    best = max(sweep, key=lambda r: (r["fail_precision"] or 0, r["true_defects_caught"]))
    return best["upright_conf"], best["ledger_guard"], False


def figures(frames: list[Frame], helmet_conf: float, upright_conf: float, ledger_guard: bool) -> dict[str, Any]:
    return {"no_helmet": helmet_figures(frames, helmet_conf),
            "spacing": spacing_figures(frames, upright_conf, ledger_guard)}


def report(weights: Path, data: Path, count: int | None, slice_n: int, detector=None) -> dict[str, Any]:
    """Generate both sets, run them, sweep, choose the thresholds on both pooled; the whole report."""
    from vision.detector import Detector

    det = detector or Detector(weights, conf_threshold=DETECTION_CONF, threads=1)
    collected = {}
    for name, spec in SETS.items():
        n = count or spec["count"]
        collected[name] = collect(det, generate(data, name, n))
    pools = {**collected, "pooled": [f for fr in collected.values() for f in fr]}
    sweeps = {
        name: {"no_helmet": [helmet_figures(fr, t) for t in HELMET_SWEEP],
               "spacing": [spacing_figures(fr, u, g) for g in (False, True) for u in UPRIGHT_SWEEP]}
        for name, fr in pools.items()
    }
    helmet_conf, helmet_met = choose_helmet(sweeps["pooled"]["no_helmet"])
    upright_conf, guard, spacing_met = choose_spacing(sweeps["pooled"]["spacing"])
    chosen = {"helmet_conf": helmet_conf, "upright_conf": upright_conf, "ledger_guard": guard}
    return {
        "generated_by": "python -m vision.operating_point",
        "weights": weights.name,
        "helmet_classifier": det.helmet.spec.model if det.helmet else None,
        "worker": {"detection_conf": DETECTION_CONF, "alert_window_s": ALERT_WINDOW_S,
                   "camera_interval_s": CAMERA_INTERVAL_S},
        "targets": {
            "no_helmet": f"alert precision >= {TARGET_PRECISION} on both draws pooled, at the lowest helmet_conf"
                         " (the best recall)",
            "spacing": f"fail precision >= {TARGET_PRECISION} on both draws pooled, then the most defect bays caught",
        },
        "chosen": {**chosen, "met": {"no_helmet": helmet_met, "spacing": spacing_met},
                   "pooled": figures(pools["pooled"], **chosen), "pooled_sweep": sweeps["pooled"]},
        "previous": PREVIOUS,
        "sets": {
            name: {**SETS[name], "count": len(fr), "at_chosen": figures(fr, **chosen),
                   "at_previous": figures(fr, **PREVIOUS), "sweep": sweeps[name]}
            for name, fr in collected.items()
        },
        "slice": {
            "count": slice_n,
            "sets": {name: {"at_chosen": figures(fr[:slice_n], **chosen),
                            "at_previous": figures(fr[:slice_n], **PREVIOUS)} for name, fr in collected.items()},
        },
    }


def slice_figures(weights: Path, data: Path, slice_n: int, chosen: dict[str, Any]) -> dict[str, Any]:
    """The slice part of a report, recomputed from the first `slice_n` scenes of each set."""
    from vision.detector import Detector

    det = Detector(weights, conf_threshold=DETECTION_CONF, threads=1)
    out = {}
    for name in SETS:
        fr = collect(det, generate(data, name, slice_n))
        thresholds = {k: chosen[k] for k in ("helmet_conf", "upright_conf", "ledger_guard")}
        out[name] = {"at_chosen": figures(fr, **thresholds), "at_previous": figures(fr, **PREVIOUS)}
    return {"count": slice_n, "sets": out}


def figures_at(rep: dict[str, Any], helmet_conf: float, upright_conf: float, ledger_guard: bool) -> dict[str, Any]:
    """rule → the model's measured figures at these thresholds (the swept point at or just under each),
    per draw: what an alert carries so a reader knows how far to trust it."""
    out: dict[str, Any] = {}
    for rule, key, value, keep in (
        ("no_helmet", "helmet_conf", helmet_conf, ("alert_precision", "alert_recall", "false_alerts_per_camera_hour")),
        ("spacing", "upright_conf", upright_conf, ("fail_precision", "defect_recall", "false_alerts_per_camera_hour")),
    ):
        per_set = {}
        for name, s in rep["sets"].items():
            rows = [r for r in s["sweep"][rule] if r[key] <= value + 1e-9
                    and (rule == "no_helmet" or r["ledger_guard"] is ledger_guard)]
            if rows:
                row = max(rows, key=lambda r: r[key])
                per_set[name] = {key: row[key], **{k: row[k] for k in keep}}
        out[rule] = {"source": rep.get("weights", ""), **per_set}
    return out


def load_report(weights: Path) -> dict[str, Any] | None:
    """The operating-point JSON shipped beside a model (model.onnx → model.operating-point.json), if any."""
    path = Path(weights).with_suffix(".operating-point.json")
    return json.loads(path.read_text()) if path.is_file() else None


def readme_table(rep: dict[str, Any]) -> str:
    """The table the README quotes (tests check it against the JSON)."""
    lines = [
        ("| set | thresholds | no-helmet alert precision / recall | worker precision / recall "
         "| false no-helmet alerts per camera-hour | bays judged / failed / wrongly failed / wrongly passed "
         "| spacing fail precision | defect bays caught | false spacing alerts per camera-hour |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rep["sets"].items():
        for label, key in (("chosen", "at_chosen"), ("previous", "at_previous")):
            h, sp = s[key]["no_helmet"], s[key]["spacing"]
            fa, fs = h["false_alerts_per_camera_hour"], sp["false_alerts_per_camera_hour"]
            lines.append(
                f"| {name} ({s['count']}) | {label}: helmet {h['helmet_conf']}, upright {sp['upright_conf']}"
                f"{', ledger guard' if sp['ledger_guard'] else ''} "
                f"| {_f(h['alert_precision'])} / {_f(h['alert_recall'])} "
                f"| {_f(h['worker_precision'])} / {_f(h['worker_recall'])} "
                f"| {fa['still_scene']:.2f}–{fa['independent_frames']:.2f} "
                f"| {sp['judged']} / {sp['failed']} / {sp['wrongly_failed']} / {sp['wrongly_passed']} "
                f"| {_f(sp['fail_precision'])} | {sp['true_defects_caught']} of {sp['true_defect_bays']} "
                f"| {fs['still_scene']:.2f}–{fs['independent_frames']:.2f} |"
            )
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zhijian-op-") as tmp:
        rep = report(args.weights, args.data or Path(tmp), args.count, args.slice)
    print(readme_table(rep))
    print(json.dumps({k: rep["chosen"][k] for k in ("helmet_conf", "upright_conf", "ledger_guard", "met")}),
          file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
