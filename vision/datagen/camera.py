"""The generator's camera: a rotated pinhole looking at the canvas plane, and its photometry."""

from __future__ import annotations

import cv2
import numpy as np

from vision.datagen.draw import uniform


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy_, sy_ = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    r_yaw = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_roll @ r_pitch @ r_yaw


def sees_only_canvas(hom: np.ndarray, w: int, h: int, cw: int, ch: int) -> bool:
    """True if every image corner looks at a point of the canvas in front of the camera."""
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64)
    back = corners @ np.linalg.inv(hom).T
    if (back[:, 2] <= 0).any():
        return False
    xy = back[:, :2] / back[:, 2:3]
    return bool(
        (xy[:, 0] >= 0).all() and (xy[:, 0] <= cw).all() and (xy[:, 1] >= 0).all() and (xy[:, 1] <= ch).all()
    )


def camera_homography(
    rng: np.random.Generator, w: int, h: int, cw: int, ch: int, hard: bool, perspective: bool,
    high: bool = False,
) -> np.ndarray:
    """Canvas → image homography of a rotated pinhole camera looking at the canvas plane.

    `high`: a camera mounted above the row looking down at it (pitch 6–16° down, less yaw; with SHIFT_FILL the row is also farther away), drawn
    with rng calls of its own (the shift draw)."""
    if perspective:
        span = (40.0, 20.0, 8.0) if hard else (28.0, 12.0, 4.0)
        angles = np.array([np.radians(uniform(rng, -s, s)) for s in span])
        if high:
            angles = np.radians([uniform(rng, -20.0, 20.0), uniform(rng, 6.0, 16.0), uniform(rng, -6.0, 6.0)])
    else:
        angles = np.zeros(3)
    f = w * uniform(rng, 0.9, 1.6)
    a_in = np.array([[1 / f, 0, -cw / 2 / f], [0, 1 / f, -ch / 2 / f], [0, 0, 1]])
    zoom0 = uniform(rng, 0.9, 1.25)
    tx, ty = uniform(rng, -0.08, 0.08) * w, uniform(rng, -0.08, 0.08) * h
    # zoom in until the whole image sees the canvas (no smeared borders); if that takes too much
    # zoom, soften the rotation (the last try, no rotation, always fits)
    for damp in (1.0, 0.6, 0.3, 0.0):
        rot = rotation(*(angles * damp))
        zoom = zoom0
        for _ in range(10):
            a_out = np.array([[f * zoom, 0, w / 2 + tx], [0, f * zoom, h / 2 + ty], [0, 0, 1]])
            hom = a_out @ rot @ a_in
            if sees_only_canvas(hom, w, h, cw, ch):
                return hom / hom[2, 2]
            zoom *= 1.12
    return hom / hom[2, 2]


def photometric(rng: np.random.Generator, img: np.ndarray, hard: bool) -> np.ndarray:
    h, w = img.shape[:2]
    alpha = uniform(rng, 0.45, 1.5) if hard else uniform(rng, 0.65, 1.3)
    beta = uniform(rng, -30, 30) if hard else uniform(rng, -25, 25)
    img = cv2.convertScaleAbs(img, alpha=alpha, beta=beta)
    cast = [uniform(rng, 0.85, 1.15) for _ in range(3)]
    img = cv2.multiply(img, (*cast, 1.0))
    gamma = uniform(rng, 0.6, 1.6) if hard else uniform(rng, 0.8, 1.25)
    lut = np.clip(((np.arange(256) / 255.0) ** gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut)
    if rng.random() < (0.6 if hard else 0.4):  # uneven light: shadow of the slab, a floodlight
        ramp = cv2.resize(rng.integers(50 if hard else 80, 160, size=(2, 2)).astype(np.uint8), (w, h))
        img = cv2.multiply(img, cv2.merge([ramp, ramp, ramp]), scale=1.0 / 128.0)
    r = rng.random()
    if hard and r < 0.3:  # camera shake
        k = int(rng.integers(3, 10))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), uniform(rng, 0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        kernel /= max(float(kernel.sum()), 1e-6)
        img = cv2.filter2D(img, -1, kernel)
    elif r < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), uniform(rng, 0.4, 2.0 if hard else 1.3))
    if rng.random() < (0.7 if hard else 0.35):
        sigma = uniform(rng, 4, 18) if hard else uniform(rng, 2, 8)
        noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(sigma)
        img = cv2.add(img, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)  # saturating
    return img
