"""Detection metrics without torch: mAP50 and mAP50-95 per class, computed as ultralytics does
(greedy IoU matching at 10 thresholds, 101-point interpolated AP), so the runtime path can be scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """One class's scores; precision and recall are at the lowest confidence kept (ultralytics
    reports them at the confidence of best F1 instead, so only the mAP figures compare)."""

    class_id: int
    instances: int
    precision: float
    recall: float
    map50: float
    map50_95: float


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of N × 4 and M × 4 boxes (x1, y1, x2, y2): N × M."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_predictions(
    pred_cls: np.ndarray, pred_boxes: np.ndarray, gt_cls: np.ndarray, gt_boxes: np.ndarray
) -> np.ndarray:
    """True-positive matrix (n_pred × 10 IoU thresholds), as ultralytics matches.

    Predictions must come sorted by confidence, best first: a ground truth goes to the first
    prediction of its class that overlaps it enough, and each prediction takes at most one.
    """
    pred_cls = np.asarray(pred_cls).ravel()
    gt_cls = np.asarray(gt_cls).ravel()
    correct = np.zeros((len(pred_cls), len(IOU_THRESHOLDS)), bool)
    if len(pred_cls) == 0 or len(gt_cls) == 0:
        return correct
    iou = box_iou(gt_boxes, pred_boxes) * (gt_cls[:, None] == pred_cls[None, :])
    for i, t in enumerate(IOU_THRESHOLDS):
        matches = np.array(np.nonzero(iou >= t - 1e-9)).T  # (gt, pred)
        if len(matches):
            matches = matches[iou[matches[:, 0], matches[:, 1]].argsort(kind="stable")[::-1]]
            matches = matches[np.unique(matches[:, 1], return_index=True)[1]]
            matches = matches[np.unique(matches[:, 0], return_index=True)[1]]
            correct[matches[:, 1], i] = True
    return correct


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """101-point interpolated AP under the precision envelope (COCO / ultralytics)."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x))


def ap_per_class(
    tp: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray, gt_cls: np.ndarray
) -> list[ClassMetrics]:
    """Per-class AP at every IoU threshold from the stacked TP matrix of a whole set."""
    tp = np.asarray(tp, bool).reshape(-1, len(IOU_THRESHOLDS))
    conf = np.asarray(conf, dtype=np.float64).ravel()
    pred_cls = np.asarray(pred_cls).ravel()
    gt_cls = np.asarray(gt_cls).ravel()
    order = np.argsort(-conf, kind="stable")
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]
    out = []
    for c in np.unique(gt_cls):
        sel = pred_cls == c
        n_gt = int((gt_cls == c).sum())
        if not sel.any():
            out.append(ClassMetrics(int(c), n_gt, 0.0, 0.0, 0.0, 0.0))
            continue
        tpc = tp[sel].cumsum(axis=0)
        fpc = (~tp[sel]).cumsum(axis=0)
        recall = tpc / n_gt
        precision = tpc / (tpc + fpc)
        aps = [average_precision(recall[:, j], precision[:, j]) for j in range(tp.shape[1])]
        out.append(
            ClassMetrics(
                int(c), n_gt, float(precision[-1, 0]), float(recall[-1, 0]), aps[0], float(np.mean(aps))
            )
        )
    return out


class DetectionEvaluator:
    """Accumulate predictions and ground truth image by image, then score."""

    def __init__(self) -> None:
        self._tp: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._pred_cls: list[np.ndarray] = []
        self._gt_cls: list[np.ndarray] = []

    def add(self, pred_cls, pred_conf, pred_boxes, gt_cls, gt_boxes) -> None:
        """One image: predictions (class, confidence, box) and ground truth (class, box), boxes in pixels."""
        conf = np.asarray(pred_conf, dtype=np.float64).ravel()
        order = np.argsort(-conf, kind="stable")
        pred_cls = np.asarray(pred_cls, dtype=int).ravel()[order]
        pred_boxes = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)[order]
        gt_cls = np.asarray(gt_cls, dtype=int).ravel()
        self._tp.append(match_predictions(pred_cls, pred_boxes, gt_cls, gt_boxes))
        self._conf.append(conf[order])
        self._pred_cls.append(pred_cls)
        self._gt_cls.append(gt_cls)

    def result(self) -> list[ClassMetrics]:
        if not self._gt_cls:
            return []
        return ap_per_class(
            np.concatenate(self._tp),
            np.concatenate(self._conf),
            np.concatenate(self._pred_cls),
            np.concatenate(self._gt_cls),
        )
