"""Runtime YOLO detector without torch: an ONNX export (v8-style output [1, 4 + nc, N]) run by
onnxruntime when it is importable, else by OpenCV DNN; letterbox, decode and class-aware NMS.

Class names come from a sidecar JSON next to the model (`model.onnx` → `model.json`:
`{"names": [...], "imgsz": 640}`), written by `vision/train.py`. When the sidecar names a helmet
classifier (`"helmet"`, written by `vision/train_helmet.py`), the two person classes are decoded as one
worker and the classifier gives each worker its class from the full-resolution head (vision.helmet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision import helmet as helmet_stage
from vision import yolo_head
from vision.detection import PERSON_HELMET, PERSON_NO_HELMET, Detection
from vision.onnx_model import OnnxModel, available_backends

PAD_VALUE = 114  # ultralytics' letterbox grey


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was resized and padded into the square network input."""

    scale: float
    pad_x: float
    pad_y: float
    size: int

    def to_original(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map N × 4 boxes (x1, y1, x2, y2) in network pixels back to the original image, clipped."""
        out = np.asarray(boxes, dtype=np.float64).copy().reshape(-1, 4)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def letterbox(image: np.ndarray, size: int = 640) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to size × size, centred (as ultralytics does)."""
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    new_w, new_h = round(w * scale), round(h * scale)
    pad_w, pad_h = (size - new_w) / 2, (size - new_h) / 2
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE, PAD_VALUE, PAD_VALUE)
    )
    return padded, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top), size=size)


def to_blob(padded_bgr: np.ndarray) -> np.ndarray:
    """NCHW float32 RGB in [0, 1]."""
    return cv2.dnn.blobFromImage(padded_bgr, scalefactor=1.0 / 255.0, swapRB=True, crop=False)


def decode(
    output: np.ndarray,
    box: Letterbox,
    width: int,
    height: int,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_detections: int = 300,
    merge_persons: bool = False,
) -> list[Detection]:
    """YOLOv8 head output [1, 4 + nc, N] (cx, cy, w, h, class scores) → detections in image pixels.

    ``merge_persons``: the two person classes count as one (class person_helmet, scored P(helmet) +
    P(no helmet) capped at 1: the classes exclude each other), for the helmet classifier to split again
    (vision.helmet)."""
    pred = np.asarray(output, dtype=np.float32)
    if pred.ndim == 3:
        pred = pred[0]
    pred = pred.T  # N × (4 + nc)
    scores = pred[:, 4:]
    if scores.shape[1] == 0:
        return []
    if merge_persons and scores.shape[1] > PERSON_NO_HELMET:
        scores = scores.copy()
        scores[:, PERSON_HELMET] = np.minimum(scores[:, PERSON_HELMET] + scores[:, PERSON_NO_HELMET], 1.0)
        scores[:, PERSON_NO_HELMET] = 0.0
    class_ids = scores.argmax(axis=1)
    conf = scores[np.arange(len(scores)), class_ids]
    keep = conf >= conf_threshold
    if not keep.any():
        return []
    pred, class_ids, conf = pred[keep], class_ids[keep], conf[keep]
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    # class-aware NMS: offset each class far apart so boxes of different classes never suppress
    offset = class_ids[:, None].astype(np.float32) * 4096.0
    shifted = xyxy + offset
    rects = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in shifted]
    # the threshold is applied above (≥); NMSBoxes would drop a score equal to it (>)
    idx = cv2.dnn.NMSBoxes(rects, conf.astype(float).tolist(), 0.0, iou_threshold, top_k=max_detections)
    idx = np.array(idx, dtype=int).ravel()
    idx = idx[np.argsort(-conf[idx], kind="stable")][:max_detections]
    boxes = box.to_original(xyxy[idx], width, height)
    return [
        Detection(float(b[0]), float(b[1]), float(b[2]), float(b[3]), int(class_ids[i]), float(conf[i]))
        for b, i in zip(boxes, idx, strict=True)
    ]


class Detector:
    """An ONNX YOLO model with its class names; `detect(image)` returns boxes in image pixels."""

    def __init__(
        self,
        model_path: str | Path,
        names_path: str | Path | None = None,
        backend: str = "auto",
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        threads: int = 1,
        helmet: bool = True,
        decode_tail: bool = True,
    ) -> None:
        """``helmet``: use the helmet classifier the sidecar names, if it names one (vision.helmet).
        ``decode_tail``: decode boxes in numpy for the candidates only when the graph allows it
        (vision.yolo_head); False runs the whole graph."""
        model_path = Path(model_path)
        self.model_name = model_path.name
        sidecar = json.loads(Path(names_path or model_path.with_suffix(".json")).read_text())
        self.names: list[str] = list(sidecar["names"])
        self.size: int = int(sidecar.get("imgsz", 640))
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        # with onnxruntime, an ultralytics v8 export runs without its box-decode tail, which is done
        # for the candidate anchors only (vision.yolo_head: same arithmetic, 7-19 % less network time)
        runs_ort = (backend == "auto" and available_backends()[0] == "onnxruntime") or backend == "onnxruntime"
        self._head = yolo_head.split(model_path) if runs_ort and decode_tail else None
        self._model = OnnxModel(self._head.body if self._head else model_path, backend, threads)
        self.backend = self._model.backend
        self.helmet = helmet_stage.load(sidecar, model_path.parent, self.backend, threads) if helmet else None

    def infer(self, blob: np.ndarray, min_score: float = 0.0) -> np.ndarray:
        """Run the network on an NCHW blob; returns the head output [1, 4 + nc, N]. With the decode tail
        done here (vision.yolo_head), only the anchors whose class scores sum to ``min_score`` or more
        are decoded and returned (a superset of those any class or the merged person score keeps)."""
        if self._head is None:
            return self._model.run(blob)
        outputs = dict(zip(self._model.output_names, self._model.run_all(blob), strict=True))
        cls = outputs[self._head.cls_output][0]
        columns = np.flatnonzero(cls.sum(axis=0) >= min_score * 0.999) if min_score > 0 else np.arange(cls.shape[1])
        return np.concatenate([self._head.boxes(outputs[self._head.dist_output], columns), cls[:, columns]])[None]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Detections in the original image's pixels, best first."""
        h, w = image_bgr.shape[:2]
        padded, box = letterbox(image_bgr, self.size)
        out = self.infer(to_blob(padded), self.conf_threshold)
        if out.shape[-2] - 4 != len(self.names):
            raise ValueError(f"model has {out.shape[-2] - 4} classes, sidecar names {len(self.names)}")
        dets = decode(out, box, w, h, self.conf_threshold, self.iou_threshold, merge_persons=self.helmet is not None)
        return dets if self.helmet is None else self.helmet.classify(image_bgr, dets)
