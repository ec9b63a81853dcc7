"""Second look at each worker's head: helmet or not, judged on the full-resolution frame.

The detector sees a frame at its network input (320 px): a worker's head there is a few pixels
across (median ≈ 10 px on the hard held-out set), too little to tell a white helmet from a grey soft
cap. So the detector's two person classes are taken as one ("a worker is here", scored P(helmet) +
P(no helmet) capped at 1), and a small CNN (`vision/train_helmet.py`) looks at a crop of the head region
of the original frame, where the head is twice as large or more, and says how likely the head is
bare. The detection's class follows that verdict and its confidence is the product
P(worker) × P(that class | worker).

The classifier is an ONNX file beside the detector's (`{"helmet": {"model": "…onnx", …}}` in the
detector's sidecar JSON) run by the same backend (onnxruntime or OpenCV DNN): no torch at runtime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.detection import PERSON_HELMET, PERSON_NO_HELMET, Detection
from vision.onnx_model import OnnxModel

PERSONS = (PERSON_HELMET, PERSON_NO_HELMET)

CROP_PX = 32  # the classifier's input side (defaults; a trained classifier's own are in its sidecar entry)
# The head region of a whole-worker box, as fractions of the box width: a square this many widths
# across, centred on the box, starting this far above the box top (the head is at the top, or
# lower when an arm is raised above it).
CROP_SIDE = 0.9
CROP_LIFT = 0.05


def head_region(box: Sequence[float], side: float = CROP_SIDE, lift: float = CROP_LIFT) -> tuple[float, float, float, float]:
    """The square (x1, y1, x2, y2) where a worker's head is, from the worker's box."""
    x1, y1, x2, _ = box
    width = x2 - x1
    cx = (x1 + x2) / 2.0
    top = y1 - lift * width
    return cx - side * width / 2.0, top, cx + side * width / 2.0, top + side * width


def head_crops(image_bgr: np.ndarray, boxes: Sequence[Sequence[float]], px: int = CROP_PX, side: float = CROP_SIDE,
               lift: float = CROP_LIFT) -> np.ndarray:
    """N × 3 × px × px float32 RGB in [0, 1]: each head region resampled (an affine warp, so a region
    reaching past the frame edge is padded with the edge, and any size costs the same)."""
    out = np.empty((len(boxes), 3, px, px), np.float32)
    for i, b in enumerate(boxes):
        x1, y1, x2, _ = head_region(b, side, lift)
        s = px / max(x2 - x1, 1e-6)
        m = np.array([[s, 0.0, -x1 * s], [0.0, s, -y1 * s]], np.float64)
        crop = cv2.warpAffine(image_bgr, m, (px, px), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        out[i] = crop[:, :, ::-1].transpose(2, 0, 1) / 255.0
    return out


@dataclass(frozen=True, slots=True)
class HelmetSpec:
    """The classifier's sidecar entry: its ONNX file and the crop geometry it was trained with."""

    model: str
    crop_px: int = CROP_PX
    crop_side: float = CROP_SIDE
    crop_lift: float = CROP_LIFT

    @classmethod
    def from_sidecar(cls, entry: dict) -> HelmetSpec:
        return cls(model=str(entry["model"]), crop_px=int(entry["crop_px"]), crop_side=float(entry["crop_side"]),
                   crop_lift=float(entry["crop_lift"]))


class HelmetClassifier:
    """P(bare head) for each worker box, from the ONNX classifier (logit output, one per crop) on the
    crops its spec says it was trained on."""

    def __init__(self, model_path: str | Path, backend: str, threads: int = 1, spec: HelmetSpec | None = None) -> None:
        self.spec = spec or HelmetSpec(model=Path(model_path).name)
        self._model = OnnxModel(model_path, backend, threads)

    def p_bare(self, image_bgr: np.ndarray, boxes: Sequence[Sequence[float]]) -> np.ndarray:
        if not len(boxes):
            return np.zeros(0, np.float64)
        logits = self._model.run(head_crops(image_bgr, boxes, self.spec.crop_px, self.spec.crop_side,
                                            self.spec.crop_lift))
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64).reshape(-1)))

    def classify(self, image_bgr: np.ndarray, dets: list[Detection]) -> list[Detection]:
        """``reclassify`` the workers among ``dets`` by their heads in ``image_bgr``."""
        workers = [(d.x1, d.y1, d.x2, d.y2) for d in dets if d.class_id in PERSONS]
        return reclassify(dets, self.p_bare(image_bgr, workers))


def load(detector_sidecar: dict, model_dir: Path, backend: str, threads: int = 1) -> HelmetClassifier | None:
    """The classifier named in a detector's sidecar, if it names one."""
    entry = detector_sidecar.get("helmet")
    if not entry:
        return None
    spec = HelmetSpec.from_sidecar(entry)
    return HelmetClassifier(model_dir / spec.model, backend, threads, spec)


def reclassify(dets: list[Detection], p_bare: np.ndarray) -> list[Detection]:
    """Workers (the detector's person class) get their helmet class from the classifier; confidence
    P(worker) × P(class); other detections pass through; best first."""
    out: list[Detection] = []
    k = 0
    for d in dets:
        if d.class_id in PERSONS:
            p = float(p_bare[k])
            k += 1
            bare = p >= 0.5
            out.append(Detection(d.x1, d.y1, d.x2, d.y2, PERSON_NO_HELMET if bare else PERSON_HELMET,
                                 d.confidence * (p if bare else 1.0 - p)))
        else:
            out.append(d)
    out.sort(key=lambda d: -d.confidence)
    return out


def write_sidecar_entry(detector_sidecar_path: Path, spec: HelmetSpec, metrics: dict | None = None) -> None:
    """Name the classifier and its crops in the detector's sidecar (the runtime loads it from there)."""
    sidecar = json.loads(detector_sidecar_path.read_text())
    sidecar["helmet"] = {"model": spec.model, "crop_px": spec.crop_px, "crop_side": spec.crop_side,
                         "crop_lift": spec.crop_lift}
    if metrics:
        sidecar["helmet_metrics"] = metrics
    detector_sidecar_path.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")
