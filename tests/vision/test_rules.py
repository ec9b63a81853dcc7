"""Spacing and helmet rules: table-driven on hand-made boxes, then on generated scenes with known spacing."""

from __future__ import annotations

import numpy as np
import pytest

from vision.calibration import calibrate_from_target
from vision.detection import LEDGER, PERSON_HELMET, PERSON_NO_HELMET, UPRIGHT, Detection
from vision.rules import (
    SYSTEM_MAX_SPACING_M,
    Outcome,
    SpacingRule,
    check_upright_spacing,
    helmet_risks,
    judge_spacing,
    spacing_limit_m,
)

EPS = 1e-9


@pytest.mark.parametrize(
    ("plan", "ceiling", "allowance", "limit"),
    [
        (0.9, None, 0.0, 0.9),
        (0.9, SYSTEM_MAX_SPACING_M["cuplock_q235"], 0.0, 0.9),  # plan below the ceiling governs
        (1.5, 1.5, 0.0, 1.5),  # at the ceiling
        (1.6, 1.5, 0.0, 1.5),  # plan above the ceiling: the ceiling governs
        (1.9, SYSTEM_MAX_SPACING_M["cuplock_q345"], 0.0, 1.8),
        (0.9, None, 0.05, 0.95),
    ],
)
def test_spacing_limit(plan, ceiling, allowance, limit):
    assert spacing_limit_m(plan, ceiling, allowance) == pytest.approx(limit)


@pytest.mark.parametrize("plan", [0.0, -0.9])
def test_spacing_limit_refuses_a_non_positive_plan(plan):
    with pytest.raises(ValueError):
        spacing_limit_m(plan, None)


# exact binary fractions, so the boundaries are exact: limit 1.0, σ 1/16, k 2 → band ± 0.125
@pytest.mark.parametrize(
    ("measured", "sigma", "outcome"),
    [
        (0.5, 0.0625, Outcome.PASS),
        (0.875, 0.0625, Outcome.PASS),  # band top exactly at the limit
        (0.875 + EPS, 0.0625, Outcome.UNCERTAIN),
        (1.0, 0.0625, Outcome.UNCERTAIN),
        (1.125, 0.0625, Outcome.UNCERTAIN),  # band bottom exactly at the limit
        (1.125 + EPS, 0.0625, Outcome.FAIL),
        (1.0, 0.0, Outcome.PASS),  # no uncertainty: at the limit passes
        (1.0 + EPS, 0.0, Outcome.FAIL),
    ],
)
def test_judge_spacing_boundaries(measured, sigma, outcome):
    assert judge_spacing(measured, sigma, 1.0, k_sigma=2.0) is outcome


def _square_calibration(corner_sigma_px: float = 0.0):
    """100 px per metre, no perspective: a 1 m square target at the image origin."""
    px = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float)
    m = np.array([[0, 0], [1, 0], [1, -1], [0, -1]], float)
    return calibrate_from_target(px, m, corner_sigma_px)


def _upright(cx: float, conf: float = 0.9) -> Detection:
    return Detection(cx - 2.5, 100.0, cx + 2.5, 400.0, UPRIGHT, conf)


# 1 px jitter → 0.01 m per upright, σ = 0.0141 m per bay, band ± 0.0424 m at k = 3
@pytest.mark.parametrize(
    ("bay_px", "outcome"),
    [
        (80, Outcome.PASS),
        (85, Outcome.PASS),  # 0.85 + 0.0424 < 0.9
        (86, Outcome.UNCERTAIN),  # 0.86 + 0.0424 > 0.9
        (90, Outcome.UNCERTAIN),
        (94, Outcome.UNCERTAIN),  # 0.94 − 0.0424 < 0.9
        (95, Outcome.FAIL),  # 0.95 − 0.0424 > 0.9
        (150, Outcome.FAIL),
    ],
)
def test_bay_outcomes_around_the_plan_value(bay_px, outcome):
    rule = SpacingRule(plan_spacing_m=0.9, box_jitter_px=1.0, k_sigma=3.0)
    (verdict,) = check_upright_spacing([_upright(200), _upright(200 + bay_px)], _square_calibration(), rule)
    assert verdict.measured_m == pytest.approx(bay_px / 100)
    assert verdict.sigma_m == pytest.approx(np.sqrt(2) * 0.01, rel=1e-3)
    assert verdict.outcome is outcome


def test_ceiling_governs_a_plan_above_it():
    rule = SpacingRule(plan_spacing_m=2.0, system_max_m=1.5, box_jitter_px=0.0)
    (verdict,) = check_upright_spacing([_upright(100), _upright(260)], _square_calibration(), rule)
    assert verdict.limit_m == 1.5 and verdict.outcome is Outcome.FAIL


def test_bays_are_ordered_along_the_plane_and_indexed_into_the_input():
    dets = [_upright(390), Detection(0, 0, 50, 50, PERSON_HELMET), _upright(200), _upright(300)]
    verdicts = check_upright_spacing(dets, _square_calibration(), SpacingRule(0.9, box_jitter_px=0.0))
    assert [(v.left, v.right) for v in verdicts] == [(2, 3), (3, 0)]
    assert [round(v.measured_m, 6) for v in verdicts] == [1.0, 0.9]


@pytest.mark.parametrize(("gap_px", "bays"), [(10, 1), (14.9, 1), (15.1, 2), (20, 2)])
def test_double_detections_merge_below_the_threshold(gap_px, bays):
    # 0.15 m merge distance = 15 px; the merged pair keeps the more confident box
    dets = [_upright(200, 0.5), _upright(200 + gap_px, 0.8), _upright(300)]
    verdicts = check_upright_spacing(dets, _square_calibration(), SpacingRule(0.9, box_jitter_px=0.0))
    assert len(verdicts) == bays
    if bays == 1:
        assert verdicts[0].left == 1


@pytest.mark.parametrize(("x1", "kept"), [(1.0, False), (1.01, True)])
def test_boxes_cut_by_the_image_edge_are_left_out(x1, kept):
    dets = [Detection(x1, 100, x1 + 5, 400, UPRIGHT), _upright(200), _upright(290)]
    verdicts = check_upright_spacing(dets, _square_calibration(), SpacingRule(0.9), image_width=640)
    assert len(verdicts) == (2 if kept else 1)


def test_fewer_than_two_uprights_give_no_bays():
    assert check_upright_spacing([_upright(200)], _square_calibration(), SpacingRule(0.9)) == []
    assert check_upright_spacing([], _square_calibration(), SpacingRule(0.9)) == []


def test_calibration_uncertainty_widens_the_band():
    dets = [_upright(200), _upright(290)]
    tight = check_upright_spacing(dets, _square_calibration(0.0), SpacingRule(0.9, box_jitter_px=0.0))[0]
    loose = check_upright_spacing(dets, _square_calibration(2.0), SpacingRule(0.9, box_jitter_px=0.0))[0]
    assert tight.sigma_m == pytest.approx(0.0, abs=1e-9)
    assert loose.sigma_m > 0.005


@pytest.mark.parametrize(
    ("cls", "conf", "risk"),
    [
        (PERSON_NO_HELMET, 0.49, False),
        (PERSON_NO_HELMET, 0.5, True),
        (PERSON_NO_HELMET, 0.51, True),
        (PERSON_HELMET, 0.99, False),
        (UPRIGHT, 0.99, False),
    ],
)
def test_person_without_helmet_is_a_safety_risk(cls, conf, risk):
    det = Detection(10, 10, 50, 150, cls, conf)
    risks = helmet_risks([det], min_confidence=0.5)
    assert [(r.kind, r.detection) for r in risks] == ([("no_helmet", det)] if risk else [])


# ---------------------------------------------------------------- not judged (issue 21)

def _scale_cal():
    from vision.calibration import calibrate_from_scale

    return calibrate_from_scale(100.0, 0.0)  # 100 px per metre, fronto-parallel, exact


@pytest.mark.parametrize(
    ("confs", "ledger_ends_px", "expected"),
    [
        ((0.9, 0.9), [], [(Outcome.FAIL, "")]),  # 1.2 m bay against 0.9 m, both ends sure
        ((0.9, 0.49), [], [(Outcome.NOT_JUDGED, "upright_unsure")]),  # one end under 0.5
        ((0.5, 0.5), [], [(Outcome.FAIL, "")]),  # at the threshold counts as sure
        ((0.9, 0.9), [(100, 160)], [(Outcome.NOT_JUDGED, "ledger_ends_inside")]),  # a ledger ends at 1.6 m
        ((0.9, 0.9), [(100, 220)], [(Outcome.FAIL, "")]),  # ends within 0.15 m of the right upright
        ((0.9, 0.9), [(0, 220)], [(Outcome.FAIL, "")]),  # the left end cut by the image edge is no end
    ],
)
def test_a_bay_needs_sure_uprights_and_no_ledger_ending_inside(confs, ledger_ends_px, expected):
    ups = [Detection(98, 50, 102, 300, UPRIGHT, confs[0]), Detection(218, 50, 222, 300, UPRIGHT, confs[1])]
    ledgers = [Detection(a, 200, b, 204, LEDGER, 0.9) for a, b in ledger_ends_px]
    rule = SpacingRule(plan_spacing_m=0.9, box_jitter_px=0.5, min_upright_conf=0.5)
    got = check_upright_spacing(ups, _scale_cal(), rule, image_width=640, ledgers=ledgers)
    assert [(v.outcome, v.reason) for v in got] == expected
    assert got[0].measured_m == pytest.approx(1.2, abs=1e-6)


def test_a_doubtful_upright_in_a_wide_bay_splits_it_into_two_unjudged_bays():
    # 0.45 confidence upright in the middle: the 1.8 m "bay" is never judged as one
    ups = [Detection(98, 50, 102, 300, UPRIGHT, 0.9), Detection(188, 50, 192, 300, UPRIGHT, 0.45),
           Detection(278, 50, 282, 300, UPRIGHT, 0.9)]
    rule = SpacingRule(plan_spacing_m=0.9, box_jitter_px=0.5, min_upright_conf=0.5)
    got = check_upright_spacing(ups, _scale_cal(), rule, image_width=640)
    assert [(v.outcome, round(v.measured_m, 3)) for v in got] == [(Outcome.NOT_JUDGED, 0.9), (Outcome.NOT_JUDGED, 0.9)]
