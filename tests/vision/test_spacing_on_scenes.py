"""The spacing rule on generated scenes with known spacing, fed the ground-truth boxes.

Stated tolerance: the true spacing lies inside the reported band (measured ± 3σ) and the outcome never
contradicts the truth (no `pass` for a bay wider than the limit, no `fail` for one within it).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.calibration import calibrate_from_target, calibrate_from_tube, find_target_corners
from vision.datagen import SceneConfig, generate_scene, scene_rng
from vision.detection import UPRIGHT, Detection
from vision.rules import Outcome, SpacingRule, check_upright_spacing

GT_JITTER_PX = 0.5  # ground-truth boxes are exact up to the 1e-3 px rounding and anti-aliasing


def _bays(scene, calibration, jitter=GT_JITTER_PX, allowance=0.0):
    ups = scene.meta["uprights"]
    dets = [Detection(*u["box"], UPRIGHT) for u in ups if u["box"]]
    index = [k for k, u in enumerate(ups) if u["box"]]
    truth = {(s["left"], s["right"]): s["spacing_m"] for s in scene.meta["spacings"]}
    rule = SpacingRule(
        plan_spacing_m=scene.meta["plan_spacing_m"], box_jitter_px=jitter, allowance_m=allowance
    )
    out = []
    for v in check_upright_spacing(dets, calibration, rule, image_width=scene.meta["width"]):
        key = (index[v.left], index[v.right])
        if key in truth:
            out.append((v, truth[key]))
    return out


def _assert_within_tolerance(pairs, min_pairs, max_mean_abs_m):
    assert len(pairs) >= min_pairs
    errors = np.array([v.measured_m - t for v, t in pairs])
    inside = [v.low_m <= t <= v.high_m for v, t in pairs]
    contradictions = [
        (v, t)
        for v, t in pairs
        if (v.outcome is Outcome.PASS and t > v.limit_m) or (v.outcome is Outcome.FAIL and t <= v.limit_m)
    ]
    assert contradictions == []
    assert np.mean(inside) >= 0.98
    assert np.abs(errors).mean() <= max_mean_abs_m
    return errors


def test_target_calibration_on_perspective_scenes():
    pairs = []
    outcomes = set()
    for i in range(40):
        scene = generate_scene(scene_rng(101, i, False), SceneConfig(target_prob=1.0))
        t = scene.meta["target"]
        if t is None:
            continue
        cal = calibrate_from_target(np.array(t["corners_px"]), np.array(t["corners_m"]), corner_sigma_px=0.5)
        bays = _bays(scene, cal, allowance=0.05)  # scenes scatter bays by 1 cm around the plan
        pairs += bays
        outcomes |= {v.outcome for v, _ in bays}
    _assert_within_tolerance(pairs, min_pairs=100, max_mean_abs_m=0.02)
    assert outcomes == {Outcome.PASS, Outcome.FAIL, Outcome.UNCERTAIN}


def test_tube_calibration_on_fronto_parallel_scenes():
    pairs = []
    for i in range(30):
        scene = generate_scene(scene_rng(202, i, False), SceneConfig(perspective=False, target_prob=0.0))
        boxes = [u["box"] for u in scene.meta["uprights"] if u["box"]]
        widths = [b[2] - b[0] for b in boxes if 0 < b[0] and b[2] < scene.meta["width"]]
        if len(widths) < 2:
            continue
        pairs += _bays(scene, calibrate_from_tube(widths, width_sigma_px=0.5))
    errors = _assert_within_tolerance(pairs, min_pairs=60, max_mean_abs_m=0.03)
    assert np.abs(errors).max() < 0.1


@pytest.mark.parametrize(
    ("size_m", "scenes", "max_mean_abs_m"),
    [
        ((1.0, 1.2), 150, 0.03),  # a board as wide as a bay (fits in fewer bays): centimetres
        ((0.4, 0.6), 40, 0.30),  # a small board extrapolated over metres: wide bands, but still honest
    ],
)
def test_chequerboard_found_in_the_image_calibrates_within_its_band(size_m, scenes, max_mean_abs_m):
    found = 0
    pairs = []
    for i in range(scenes):
        cfg = SceneConfig(target_prob=1.0, target_size_m=size_m)
        scene = generate_scene(scene_rng(303, i, False), cfg)
        t = scene.meta["target"]
        if t is None:
            continue
        gray = cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY)
        hit = find_target_corners(gray, t["squares"], t["size_m"], tuple(t["corners_m"][0]))
        if hit is None:
            continue
        found += 1
        pairs += _bays(scene, calibrate_from_target(*hit, corner_sigma_px=0.5), allowance=0.05)
    assert found >= 8
    _assert_within_tolerance(pairs, min_pairs=25, max_mean_abs_m=max_mean_abs_m)


@pytest.mark.parametrize("hard", [False, True])
def test_sidecar_truth_is_consistent(hard):
    scene = generate_scene(scene_rng(404, 0, hard), SceneConfig(hard=hard))
    ups = scene.meta["uprights"]
    for s in scene.meta["spacings"]:
        assert s["spacing_m"] == pytest.approx(ups[s["right"]]["x_m"] - ups[s["left"]]["x_m"], abs=1e-4)
    h = np.array(scene.meta["plane_to_image"])
    for u in ups:
        if u["box"] is None:
            continue
        mid = cv2.perspectiveTransform(np.array([[[u["x_m"], u["top_m"] / 2]]]), h)[0, 0]
        x1, y1, x2, y2 = u["box"]
        if 0 < x1 and x2 < scene.meta["width"] and 0 < y1 and y2 < scene.meta["height"]:
            assert x1 - 1 <= mid[0] <= x2 + 1 and y1 - 1 <= mid[1] <= y2 + 1
