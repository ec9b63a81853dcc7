"""Real site frames for training (issue 21): the labelled sets the cameras API exports, split, mixed with
generated scenes, and the gate a retrained model passes before it may ship.

  - `split_real(sources, out)`: the exported per-camera sets (zips from `GET /api/v1/cameras/{id}/labels/
    export`, or their extracted folders) → `out/images|labels/{real_train,real_heldout}`; each frame goes
    to the held-out slice by a hash of its name (stable when more frames arrive), per camera, so every
    camera with enough frames is in both.
  - `mixed_yaml(generated, out, real)`: an ultralytics data.yaml training on generated + real frames and
    validating on the generated val split (the real held-out slice is never trained on).
  - `real_figures(weights, real)`: the operating-point figures on the real held-out slice at the shipped
    thresholds — `no_helmet` per alert and per worker (vision.operating_point.helmet_figures) and uprights
    per box (the spacing rule cannot be scored without the site's true layout; its input can).
  - `ship_gate(candidate, shipped)`: a model ships only if on the real held-out slice its no-helmet alert
    precision meets the target and neither that precision, the no-helmet recall nor the upright recall
    falls below the shipped model's.
Torch-free: `vision.train --real` calls these around the ultralytics run.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vision.detection import CLASSES, PERSON_NO_HELMET, UPRIGHT, Detection
from vision.operating_point import DETECTION_CONF, TARGET_PRECISION, Frame, helmet_figures, match

HELDOUT_FRACTION = 0.2
TRAIN_SPLIT, HELDOUT_SPLIT = "real_train", "real_heldout"


def heldout(stem: str, fraction: float = HELDOUT_FRACTION) -> bool:
    """Stable assignment of one frame to the held-out slice (by its name, not by the order frames came)."""
    return int(hashlib.sha256(stem.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def _members(source: Path) -> dict[str, bytes]:
    """images/real/*.jpg and labels/real/*.txt of one export (a zip or its extracted folder)."""
    if source.is_file():
        with zipfile.ZipFile(source) as z:
            return {n: z.read(n) for n in z.namelist() if n.startswith(("images/", "labels/"))}
    return {str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*")
            if p.is_file() and str(p.relative_to(source)).startswith(("images/", "labels/"))}


def split_real(sources: list[Path], out: Path, fraction: float = HELDOUT_FRACTION) -> dict[str, int]:
    """Copy every exported frame with its label into the train or held-out split; the counts."""
    counts = {TRAIN_SPLIT: 0, HELDOUT_SPLIT: 0}
    for source in sources:
        files = _members(Path(source))
        for name, data in sorted(files.items()):
            if not name.startswith("images/") or not name.endswith(".jpg"):
                continue
            stem = Path(name).stem
            split = HELDOUT_SPLIT if heldout(stem, fraction) else TRAIN_SPLIT
            label = files.get(f"labels/{Path(name).parent.name}/{stem}.txt", b"")
            for sub, payload, suffix in (("images", data, ".jpg"), ("labels", label, ".txt")):
                (out / sub / split).mkdir(parents=True, exist_ok=True)
                (out / sub / split / f"{stem}{suffix}").write_bytes(payload)
            counts[split] += 1
    return counts


def mixed_yaml(generated: Path, out: Path, real: Path) -> Path:
    """data.yaml training on the generated train split and the real train split; val = generated val."""
    lines = [
        "# generated + real frames (vision.real_data.mixed_yaml); the real held-out slice is not trained on",
        f"path: {Path(generated).resolve()}",
        "train:",
        "  - images/train",
        f"  - {(Path(real) / 'images' / TRAIN_SPLIT).resolve()}",
        "val: images/val",
        "names:",
        *[f"  {i}: {n}" for i, n in enumerate(CLASSES)],
    ]
    out.write_text("\n".join(lines) + "\n")
    return out


def _truth(label: Path, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    text = label.read_text().split() if label.is_file() else []
    gt = np.array(text, dtype=np.float64).reshape(-1, 5)
    boxes = np.stack([(gt[:, 1] - gt[:, 3] / 2) * w, (gt[:, 2] - gt[:, 4] / 2) * h,
                      (gt[:, 1] + gt[:, 3] / 2) * w, (gt[:, 2] + gt[:, 4] / 2) * h], axis=1)
    return gt[:, 0].astype(int), boxes


def real_figures(weights: Path, real: Path, helmet_conf: float, upright_conf: float, detector=None) -> dict[str, Any]:
    """No-helmet alert / worker figures and upright box precision / recall on the real held-out slice."""
    import cv2

    from vision.detector import Detector

    det = detector or Detector(weights, conf_threshold=DETECTION_CONF, threads=1)
    frames: list[Frame] = []
    tp = n_pred = n_true = 0
    for path in sorted((real / "images" / HELDOUT_SPLIT).glob("*.jpg")):
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        cls, boxes = _truth(real / "labels" / HELDOUT_SPLIT / f"{path.stem}.txt", w, h)
        dets: list[Detection] = det.detect(image)
        frames.append(Frame(width=w, meta={}, bare=boxes[cls == PERSON_NO_HELMET], dets=dets, calibration=None))
        ups = np.array([[d.x1, d.y1, d.x2, d.y2] for d in dets
                        if d.class_id == UPRIGHT and d.confidence >= upright_conf]).reshape(-1, 4)
        true_ups = boxes[cls == UPRIGHT]
        tp, n_pred, n_true = tp + match(ups, true_ups), n_pred + len(ups), n_true + len(true_ups)
    return {
        "frames": len(frames),
        "no_helmet": helmet_figures(frames, helmet_conf),
        "uprights": {"upright_conf": upright_conf, "boxes": n_pred, "labelled": n_true,
                     "precision": round(tp / n_pred, 4) if n_pred else None,
                     "recall": round(tp / n_true, 4) if n_true else None},
    }


def ship_gate(candidate: dict[str, Any], shipped: dict[str, Any] | None, min_frames: int = 20) -> dict[str, Any]:
    """Whether the candidate may replace the shipped model, judged on the real held-out slice; the reasons."""
    reasons = []
    if candidate["frames"] < min_frames:
        reasons.append(f"only {candidate['frames']} real held-out frames (need {min_frames})")
    precision = candidate["no_helmet"]["alert_precision"]
    if precision is None or precision < TARGET_PRECISION:
        reasons.append(f"no_helmet alert precision {precision} under the target {TARGET_PRECISION}")
    if shipped is not None:
        for path in (("no_helmet", "alert_precision"), ("no_helmet", "alert_recall"), ("uprights", "recall")):
            new, old = candidate[path[0]][path[1]], shipped[path[0]][path[1]]
            if old is not None and (new is None or new < old):
                reasons.append(f"{'.'.join(path)} {new} below the shipped model's {old}")
    return {"ship": not reasons, "reasons": reasons}
