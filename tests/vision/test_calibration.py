"""Calibration from a target and from the tube diameter: table-driven, plus the chequerboard finder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.calibration import calibrate_from_target, calibrate_from_tube, find_target_corners
from vision.detection import TUBE_DIAMETER_M

SQUARE_PX = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float)
SQUARE_M = np.array([[0, 0], [1, 0], [1, -1], [0, -1]], float)


@pytest.mark.parametrize(
    ("point_px", "point_m"),
    [((0, 0), (0, 0)), ((100, 100), (1, -1)), ((250, 50), (2.5, -0.5)), ((-30, 0), (-0.3, 0))],
)
def test_target_maps_pixels_to_metres(point_px, point_m):
    cal = calibrate_from_target(SQUARE_PX, SQUARE_M, corner_sigma_px=0.0)
    assert cal.to_plane(np.array([point_px]))[0] == pytest.approx(point_m, abs=1e-9)
    assert cal.source == "target" and cal.rms_residual_m == pytest.approx(0.0, abs=1e-12)


def test_target_recovers_a_perspective_homography():
    truth = np.array([[120.0, 8.0, 300.0], [-5.0, -110.0, 400.0], [0.02, 0.01, 1.0]])  # plane m → px
    plane = np.array([[x, y] for x in (0.0, 0.5, 1.0) for y in (0.0, 0.5, 1.0)])
    px = cv2.perspectiveTransform(plane.reshape(-1, 1, 2), truth).reshape(-1, 2)
    cal = calibrate_from_target(px, plane, corner_sigma_px=0.0)
    far = np.array([[3.0, 2.0]])
    far_px = cv2.perspectiveTransform(far.reshape(-1, 1, 2), truth).reshape(-1, 2)
    assert cal.to_plane(far_px)[0] == pytest.approx(far[0], abs=1e-6)


@pytest.mark.parametrize("n", [0, 3])
def test_target_needs_four_points(n):
    with pytest.raises(ValueError):
        calibrate_from_target(SQUARE_PX[:n], SQUARE_M[:n])


def test_ensemble_spread_grows_with_corner_error_and_distance():
    near = np.array([[50.0, 50.0], [140.0, 50.0]])
    far = np.array([[950.0, 50.0], [1040.0, 50.0]])

    def spread(sigma, pts):
        ens = calibrate_from_target(SQUARE_PX, SQUARE_M, corner_sigma_px=sigma).to_plane_ensemble(pts)
        return float(np.std(ens[:, 1, 0] - ens[:, 0, 0]))

    assert spread(0.0, near) == pytest.approx(0.0, abs=1e-12)
    assert 0 < spread(0.5, near) < spread(2.0, near)
    assert spread(0.5, near) < spread(0.5, far)  # extrapolating far from a small target costs


@pytest.mark.parametrize(
    ("widths", "metres_per_px"),
    [([10.0], TUBE_DIAMETER_M / 10), ([9.0, 10.0, 11.0], TUBE_DIAMETER_M / 10), ([4.83], 0.01)],
)
def test_tube_scale(widths, metres_per_px):
    cal = calibrate_from_tube(widths)
    assert cal.to_plane(np.array([[100.0, 0.0]]))[0, 0] == pytest.approx(100 * metres_per_px)
    assert cal.source == "tube"


@pytest.mark.parametrize("widths", [[], [10.0, 0.0], [-3.0]])
def test_tube_refuses_empty_or_non_positive_widths(widths):
    with pytest.raises(ValueError):
        calibrate_from_tube(widths)


@pytest.mark.parametrize(("n", "sigma_px"), [(1, 0.5), (4, 0.5), (16, 0.5), (16, 1.0)])
def test_tube_uncertainty_shrinks_with_more_tubes(n, sigma_px):
    cal = calibrate_from_tube([8.0] * n, width_sigma_px=sigma_px)
    scales = cal.ensemble[:, 0, 0] / cal.image_to_plane[0, 0]
    assert float(np.std(scales)) == pytest.approx(sigma_px / np.sqrt(n) / 8.0, rel=0.3)


def test_tube_with_a_rectifying_homography():
    rectify = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])  # image → rectified (× 2)
    cal = calibrate_from_tube([20.0], rectify=rectify)  # 20 rectified px = 48.3 mm
    assert cal.to_plane(np.array([[10.0, 0.0]]))[0, 0] == pytest.approx(TUBE_DIAMETER_M)


def _board(squares: int = 5, sq: int = 30, margin: int = 40) -> np.ndarray:
    side = squares * sq + 2 * margin
    img = np.full((side, side), 235, np.uint8)
    for r in range(squares):
        for c in range(squares):
            if (r + c) % 2 == 0:
                y, x = margin + r * sq, margin + c * sq
                img[y : y + sq, x : x + sq] = 20
    return img


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_chequerboard_corners_come_back_in_image_order(turns):
    img = np.ascontiguousarray(np.rot90(_board(), turns))
    hit = find_target_corners(img, 5, 0.5)
    assert hit is not None
    px, plane = hit
    assert px.shape == (16, 2) and plane.shape == (16, 2)
    assert px[1, 0] - px[0, 0] > 20 and abs(px[1, 1] - px[0, 1]) < 2  # rows run to the right
    assert px[4, 1] - px[0, 1] > 20  # columns run down
    assert plane[0] == pytest.approx((0.1, -0.1)) and plane[5] == pytest.approx((0.2, -0.2))


def test_a_grid_that_does_not_alternate_is_refused():
    # dark windows in a light wall: a regular grid of corners, but no chequer
    img = np.full((300, 300), 220, np.uint8)
    for r in range(6):
        for c in range(6):
            img[30 + r * 40 : 60 + r * 40, 30 + c * 40 : 60 + c * 40] = 40
    assert find_target_corners(img, 5, 0.5) is None
    assert find_target_corners(np.full((200, 200), 128, np.uint8), 5, 0.5) is None
