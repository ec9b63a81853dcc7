"""Torch-free mAP: table-driven IoU and matching boundaries, and AP values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vision.metrics import DetectionEvaluator, average_precision, box_iou, match_predictions


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching edges
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (0, 0, 5, 10), 0.5),
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # empty boxes: no division by zero
    ],
)
def test_box_iou(a, b, iou):
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)


# a 100 × 100 ground truth and a prediction of the same height and width `w` from the same corner:
# IoU = w / 100 for w ≤ 100; it counts at every threshold t ≤ IoU (of 0.50, 0.55, …, 0.95)
@pytest.mark.parametrize(
    ("w", "hits"),
    [(49, 0), (50, 1), (51, 1), (54, 1), (55, 2), (94, 9), (95, 10), (100, 10)],
)
def test_match_thresholds_both_sides(w, hits):
    tp = match_predictions([0], np.array([[0, 0, w, 100]]), [0], np.array([[0, 0, 100, 100]]))
    assert int(tp.sum()) == hits


def test_a_wrong_class_never_matches():
    tp = match_predictions([1], np.array([[0, 0, 100, 100]]), [0], np.array([[0, 0, 100, 100]]))
    assert not tp.any()


def test_one_ground_truth_goes_to_the_first_prediction_above_the_threshold():
    # as in ultralytics: predictions come sorted by confidence, the first that overlaps enough wins
    gt = np.array([[0, 0, 100, 100]])
    preds = np.array([[0, 0, 90, 100], [0, 0, 100, 100]])
    tp = match_predictions([0, 0], preds, [0], gt)
    assert tp[:, 0].tolist() == [True, False]
    assert tp[:, 9].tolist() == [False, True]  # at IoU 0.95 only the exact box qualifies


@pytest.mark.parametrize(
    ("recall", "precision", "ap"),
    [
        ([1.0], [1.0], 0.995),  # the sentinel (1, 0) costs half a step: ultralytics' ceiling is 0.995
        ([0.5], [1.0], 0.75),  # 1 up to recall 0.5, then linear down to the sentinel (1, 0)
        ([0.0], [0.0], 0.0),
    ],
)
def test_average_precision(recall, precision, ap):
    assert average_precision(np.array(recall), np.array(precision)) == pytest.approx(ap, abs=1e-9)


def test_evaluator_perfect_and_empty_predictions():
    gt_boxes = np.array([[0, 0, 50, 50], [100, 100, 200, 150]], float)
    perfect = DetectionEvaluator()
    perfect.add([0, 3], [0.9, 0.8], gt_boxes, [0, 3], gt_boxes)
    assert [(m.class_id, m.instances) for m in perfect.result()] == [(0, 1), (3, 1)]
    assert all(
        m.map50 == pytest.approx(0.995) and m.map50_95 == pytest.approx(0.995) for m in perfect.result()
    )
    empty = DetectionEvaluator()
    empty.add([], [], np.zeros((0, 4)), [0, 3], gt_boxes)
    assert [(m.class_id, m.map50) for m in empty.result()] == [(0, 0.0), (3, 0.0)]


def test_a_false_positive_ranked_first_halves_precision():
    ev = DetectionEvaluator()
    gt = np.array([[0, 0, 100, 100]], float)
    ev.add([0, 0], [0.9, 0.8], np.array([[300, 300, 400, 400], [0, 0, 100, 100]], float), [0], gt)
    (m,) = ev.result()
    assert m.precision == pytest.approx(0.5) and m.recall == pytest.approx(1.0)
    assert m.map50 == pytest.approx(0.5, abs=0.01)
