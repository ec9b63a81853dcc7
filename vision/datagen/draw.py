"""Drawing primitives of the scene generator: sub-pixel rectangles, tubes, backgrounds, workers."""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # fixed-point bits for sub-pixel drawing
ONE = 1 << SHIFT

# BGR palettes
TUBE_COLOURS = (
    (185, 185, 180),
    (40, 110, 230),
    (40, 60, 150),
    (30, 190, 230),
    (160, 90, 40),
    (120, 120, 120),
)
PANEL_COLOURS = ((40, 60, 140), (70, 150, 200), (150, 140, 130), (50, 90, 170), (30, 40, 90))
BEAM_COLOURS = ((60, 100, 150), (140, 140, 140), (40, 70, 110), (90, 90, 100))
HELMET_COLOURS = ((0, 210, 255), (20, 20, 220), (240, 240, 240), (200, 120, 20), (0, 140, 255))
CLOTHES = ((120, 80, 40), (60, 60, 60), (30, 120, 200), (160, 160, 160), (40, 40, 120), (90, 110, 60))
SKIN = ((120, 160, 210), (90, 130, 180), (70, 110, 160))


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def jitter(rng: np.random.Generator, colour, amount: int = 18) -> tuple[int, int, int]:
    d = rng.integers(-amount, amount + 1, size=3).tolist()
    return tuple(min(255, max(0, int(c) + k)) for c, k in zip(colour, d, strict=True))


def rect(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour) -> None:
    cv2.rectangle(
        img,
        (round(x1 * ONE), round(y1 * ONE)),
        (round(x2 * ONE), round(y2 * ONE)),
        colour,
        -1,
        cv2.LINE_AA,
        SHIFT,
    )


def tube(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour, vertical: bool) -> None:
    """A tube with a highlight stripe and a shaded edge, so it reads as a cylinder."""
    rect(img, x1, y1, x2, y2, colour)
    light = tuple(min(255, int(c * 1.35) + 25) for c in colour)
    dark = tuple(int(c * 0.55) for c in colour)
    if vertical:
        w = x2 - x1
        rect(img, x1 + 0.2 * w, y1, x1 + 0.45 * w, y2, light)
        rect(img, x2 - 0.2 * w, y1, x2, y2, dark)
    else:
        h = y2 - y1
        rect(img, x1, y1 + 0.2 * h, x2, y1 + 0.45 * h, light)
        rect(img, x1, y2 - 0.2 * h, x2, y2, dark)


def background(rng: np.random.Generator, cw: int, ch: int, ground_y: float, hard: bool) -> np.ndarray:
    corners = rng.integers(90, 235, size=(2, 2, 3)).astype(np.uint8)
    img = cv2.resize(corners, (cw, ch), interpolation=cv2.INTER_LINEAR)
    # distant buildings / walls with window grids
    for _ in range(int(rng.integers(1, 5))):
        bx = uniform(rng, -0.1, 0.9) * cw
        bw = uniform(rng, 0.15, 0.5) * cw
        top = uniform(rng, 0.0, 0.6) * ground_y
        colour = tuple(int(c) for c in rng.integers(70, 220, size=3))
        rect(img, bx, top, bx + bw, ground_y, colour)
        win = tuple(int(c * 0.6) for c in colour)
        step = uniform(rng, 25, 60)
        for wy in np.arange(top + step / 2, ground_y - step / 2, step):
            for wx in np.arange(bx + step / 3, bx + bw - step / 2, step):
                rect(img, wx, wy, wx + step * 0.45, wy + step * 0.5, win)
    grey = int(rng.integers(90, 190))
    rect(img, 0, ground_y, cw, ch, jitter(rng, (grey, grey, grey + 5), 15))
    # low-frequency texture (stains, dirt) and a little high-frequency grain, both cheap
    lo = rng.integers(0, 35 if not hard else 60, size=(ch // 32 + 1, cw // 32 + 1, 1)).astype(np.uint8)
    tex = cv2.resize(lo, (cw, ch), interpolation=cv2.INTER_CUBIC)
    img = cv2.subtract(img, cv2.merge([tex, tex, tex]))
    return img


def person(
    targets, rng, fx: float, fy: float, h: float, helmet: bool, soft_cap_prob: float
) -> tuple[float, ...]:
    """Draw a standing worker with feet at (fx, fy), height h px; returns its box x1, y1, x2, y2."""
    img, mask = targets
    w = 0.27 * h
    clothes = jitter(rng, pick(rng, CLOTHES))
    trousers = jitter(rng, pick(rng, CLOTHES))
    skin = jitter(rng, pick(rng, SKIN), 10)
    hip, shoulder = fy - 0.48 * h, fy - 0.82 * h
    head_r = 0.065 * h
    head_cy = fy - h + 2.0 * head_r + (0.02 * h if helmet else 0.0)
    arm_w = 0.07 * h
    raise_arm = rng.random() < 0.25
    parts = [
        (fx - w / 2 + 0.02 * h, hip, fx - 0.015 * h, fy, trousers),  # legs
        (fx + 0.015 * h, hip, fx + w / 2 - 0.02 * h, fy, trousers),
        (fx - w / 2, shoulder, fx + w / 2, hip + 0.03 * h, clothes),  # torso
        (fx - w / 2 - arm_w, shoulder, fx - w / 2, hip - 0.02 * h, clothes),  # arms
    ]
    if raise_arm:
        parts.append((fx + w / 2, shoulder - 0.3 * h, fx + w / 2 + arm_w, shoulder + 0.05 * h, clothes))
    else:
        parts.append((fx + w / 2, shoulder, fx + w / 2 + arm_w, hip - 0.02 * h, clothes))
    parts.append((fx - 0.03 * h, shoulder - 0.05 * h, fx + 0.03 * h, shoulder + 0.01 * h, skin))  # neck
    for x1, y1, x2, y2, colour in parts:
        rect(img, x1, y1, x2, y2, colour)
        rect(mask, x1, y1, x2, y2, 1)
    if rng.random() < 0.5:  # high-visibility vest
        vest = pick(rng, ((0, 140, 255), (40, 230, 200), (0, 200, 255)))
        rect(img, fx - w / 2, shoulder + 0.02 * h, fx + w / 2, hip, vest)
        rect(img, fx - w / 2, hip - 0.1 * h, fx + w / 2, hip - 0.08 * h, (220, 220, 220))
    centre = (round(fx * ONE), round(head_cy * ONE))
    axes = (round(head_r * ONE), round(head_r * 1.15 * ONE))
    cv2.ellipse(img, centre, axes, 0, 0, 360, skin, -1, cv2.LINE_AA, SHIFT)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1, cv2.LINE_AA, SHIFT)
    top = head_cy - head_r * 1.15
    if helmet:
        colour = jitter(rng, pick(rng, HELMET_COLOURS), 12)
        hr = head_r * 1.3
        hc = (round(fx * ONE), round((head_cy - 0.2 * head_r) * ONE))
        ha = (round(hr * ONE), round(hr * 1.05 * ONE))
        cv2.ellipse(img, hc, ha, 0, 180, 360, colour, -1, cv2.LINE_AA, SHIFT)
        cv2.ellipse(mask, hc, ha, 0, 180, 360, 1, -1, cv2.LINE_AA, SHIFT)
        brim_y = head_cy - 0.2 * head_r
        rect(img, fx - hr * 1.15, brim_y - 0.08 * hr, fx + hr * 1.15, brim_y + 0.12 * hr, colour)
        top = head_cy - 0.2 * head_r - hr * 1.05
    else:
        style = rng.random()
        hair = jitter(rng, (25, 25, 30), 10)
        if style < soft_cap_prob:  # soft cap: not a helmet, a useful hard negative
            cap = jitter(rng, pick(rng, ((40, 40, 40), (120, 60, 20), (200, 200, 200))), 15)
            hc = (round(fx * ONE), round((head_cy - 0.3 * head_r) * ONE))
            ha = (round(head_r * 1.05 * ONE), round(head_r * 0.8 * ONE))
            cv2.ellipse(img, hc, ha, 0, 180, 360, cap, -1, cv2.LINE_AA, SHIFT)
            rect(img, fx, head_cy - 0.35 * head_r, fx + head_r * 1.6, head_cy - 0.15 * head_r, cap)
        elif style < 0.85:
            hc = (round(fx * ONE), round((head_cy - 0.35 * head_r) * ONE))
            ha = (round(head_r * ONE), round(head_r * 0.8 * ONE))
            cv2.ellipse(img, hc, ha, 0, 180, 360, hair, -1, cv2.LINE_AA, SHIFT)
    x1 = fx - w / 2 - arm_w
    x2 = fx + w / 2 + arm_w
    y1 = min(top, shoulder - 0.3 * h) if raise_arm else top
    return x1, y1, x2, fy
