"""Per-camera calibration (相机标定): image pixels → metres on the formwork plane, with its uncertainty.

Two sources, both pure functions of measured points:
- a calibration target (标靶) of known size on the plane: a homography (perspective included) from
  its corners by `cv2.findHomography`;
- the known outer diameter of the support tube (48.3 mm): a scale only, from the apparent widths of
  upright tubes in a fronto-parallel view, or in a view first rectified by a homography known up to scale.

The uncertainty is carried as an ensemble of homographies refitted from perturbed measurements
(seeded, so deterministic); a measurement is mapped through every member and its spread is the
calibration part of its error. That also covers extrapolation far from a small target.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.detection import TUBE_DIAMETER_M

ENSEMBLE_SIZE = 64
_RNG_SEED = 20261124


@dataclass(frozen=True, slots=True)
class Calibration:
    """image→plane homography (metres), an ensemble expressing its uncertainty, and where it came from."""

    image_to_plane: np.ndarray  # 3 × 3
    ensemble: np.ndarray  # K × 3 × 3, perturbed refits
    source: str  # "target" | "tube"
    rms_residual_m: float = 0.0

    def to_plane(self, points_px: np.ndarray) -> np.ndarray:
        """Map N × 2 image points to N × 2 plane points in metres."""
        pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.image_to_plane).reshape(-1, 2)

    def to_plane_ensemble(self, points_px: np.ndarray) -> np.ndarray:
        """Map N × 2 image points through every ensemble member: K × N × 2 metres."""
        pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        homog = np.concatenate([pts, np.ones((len(pts), 1))], axis=1)  # N × 3
        mapped = np.einsum("kij,nj->kni", self.ensemble, homog)
        return mapped[..., :2] / mapped[..., 2:3]

    def metres_per_pixel(self, point_px: tuple[float, float]) -> np.ndarray:
        """Local 2 × 2 Jacobian d(plane metres)/d(image pixels) at a point."""
        x, y = point_px
        eps = 0.5
        pts = np.array([[x, y], [x + eps, y], [x, y + eps]])
        m = self.to_plane(pts)
        return np.stack([(m[1] - m[0]) / eps, (m[2] - m[0]) / eps], axis=1)


def _normalise(h: np.ndarray) -> np.ndarray:
    return h / h[2, 2]


def calibrate_from_target(
    corners_px: np.ndarray,
    corners_m: np.ndarray,
    corner_sigma_px: float = 0.5,
    ensemble_size: int = ENSEMBLE_SIZE,
) -> Calibration:
    """Homography from ≥ 4 target points (image px ↔ plane metres); `corner_sigma_px` is their 1-σ error."""
    src = np.asarray(corners_px, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(corners_m, dtype=np.float64).reshape(-1, 2)
    if len(src) < 4 or len(src) != len(dst):
        raise ValueError("need at least 4 matching target points")
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None:
        raise ValueError("degenerate target points")
    h = _normalise(h)
    mapped = cv2.perspectiveTransform(src.reshape(-1, 1, 2), h).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((mapped - dst) ** 2, axis=1))))
    rng = np.random.default_rng(_RNG_SEED)
    members = []
    for _ in range(ensemble_size):
        noisy = src + rng.normal(0.0, corner_sigma_px, size=src.shape)
        hk, _ = cv2.findHomography(noisy, dst, 0)
        if hk is not None:
            members.append(_normalise(hk))
    return Calibration(h, np.array(members), "target", rms)


def calibrate_from_tube(
    widths_px: np.ndarray,
    width_sigma_px: float = 0.5,
    rectify: np.ndarray | None = None,
    diameter_m: float = TUBE_DIAMETER_M,
    ensemble_size: int = ENSEMBLE_SIZE,
) -> Calibration:
    """Scale from apparent tube widths (px, in the rectified image when `rectify` is given).

    Valid only where the tubes are vertical in the (rectified) image and lie on the plane; each
    width has a 1-σ error of `width_sigma_px` (box jitter, edge blur) and the spread between tubes
    counts too. The result has no perspective of its own: pass `rectify` for an oblique camera.
    """
    w = np.asarray(widths_px, dtype=np.float64).ravel()
    if len(w) == 0 or np.any(w <= 0):
        raise ValueError("need positive tube widths")
    mean = float(w.mean())
    spread = float(w.std(ddof=1)) if len(w) > 1 else 0.0
    sigma_mean = max(spread, width_sigma_px) / np.sqrt(len(w))
    base = np.eye(3) if rectify is None else _normalise(np.asarray(rectify, dtype=np.float64))
    scale = diameter_m / mean
    h = np.diag([scale, scale, 1.0]) @ base
    rng = np.random.default_rng(_RNG_SEED)
    widths = mean + rng.normal(0.0, sigma_mean, size=ensemble_size)
    members = np.array([np.diag([diameter_m / wk, diameter_m / wk, 1.0]) @ base for wk in widths])
    return Calibration(h, members, "tube", 0.0)


def _alternates(gray: np.ndarray, grid_px: np.ndarray, squares: int, min_contrast: float = 30.0) -> bool:
    """True if the squares around a found corner grid really alternate dark / light, as on the board."""
    inner = squares - 1
    units = np.array([[c + 1, r + 1] for r in range(inner) for c in range(inner)], dtype=np.float64)
    h, _ = cv2.findHomography(units, grid_px.reshape(-1, 2), 0)
    if h is None:
        return False
    centres = np.array([[c + 0.5, r + 0.5] for r in range(squares) for c in range(squares)], dtype=np.float64)
    px = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), h).reshape(-1, 2)
    rows, cols = gray.shape[:2]
    if (px[:, 0] < 0).any() or (px[:, 1] < 0).any() or (px[:, 0] >= cols).any() or (px[:, 1] >= rows).any():
        return False
    values = cv2.blur(gray, (3, 3))[px[:, 1].astype(int), px[:, 0].astype(int)].astype(np.float64)
    parity = np.array([(r + c) % 2 for r in range(squares) for c in range(squares)], bool)
    a, b = values[parity], values[~parity]
    dark, light = (a, b) if a.mean() < b.mean() else (b, a)
    return bool(light.min() - dark.max() >= min_contrast)


def find_target_corners(
    gray: np.ndarray, squares: int, size_m: float, origin_m: tuple[float, float] = (0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray] | None:
    """Inner corners of a `squares` × `squares` chequerboard target: (image px, plane metres) or None.

    The plane coordinates put the target's top-left outer corner at `origin_m` (x right, y up); the
    target must hang level. OpenCV may return a square grid in any of its 8 symmetric orders: the
    grid is put back so that rows run to the right and columns down in the image (camera roll < 45°).
    A grid whose squares do not alternate dark / light (window frames, the scaffold) is refused.
    """
    inner = squares - 1
    found, corners = cv2.findChessboardCornersSB(gray, (inner, inner), flags=cv2.CALIB_CB_EXHAUSTIVE)
    if not found:
        return None
    grid_px = corners.reshape(inner, inner, 2).astype(np.float64)
    best, best_score = grid_px, -np.inf
    for flip in (False, True):
        g = grid_px.transpose(1, 0, 2) if flip else grid_px
        for k in range(4):
            cand = np.rot90(g, k, axes=(0, 1))
            score = (cand[0, 1, 0] - cand[0, 0, 0]) + (cand[1, 0, 1] - cand[0, 0, 1])
            if score > best_score:
                best, best_score = cand, score
    if not _alternates(gray, best, squares):
        return None  # a window grid or the scaffold itself, not our board
    sq = size_m / squares
    plane = np.array(
        [[origin_m[0] + (c + 1) * sq, origin_m[1] - (r + 1) * sq] for r in range(inner) for c in range(inner)]
    )
    return np.ascontiguousarray(best).reshape(-1, 2), plane


def calibrate_from_scale(
    pixels_per_metre: float,
    sigma_rel: float = 0.01,
    rectify: np.ndarray | None = None,
    ensemble_size: int = ENSEMBLE_SIZE,
) -> Calibration:
    """A measured scale on the plane (px per metre, 1-σ relative error), fronto-parallel or after `rectify`."""
    if pixels_per_metre <= 0:
        raise ValueError("pixels per metre must be positive")
    base = np.eye(3) if rectify is None else _normalise(np.asarray(rectify, dtype=np.float64))
    scale = 1.0 / pixels_per_metre
    h = np.diag([scale, scale, 1.0]) @ base
    rng = np.random.default_rng(_RNG_SEED)
    factors = 1.0 + rng.normal(0.0, sigma_rel, size=ensemble_size)
    members = np.array([np.diag([scale / f, scale / f, 1.0]) @ base for f in factors])
    return Calibration(h, members, "scale", 0.0)
