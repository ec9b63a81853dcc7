"""Draw one labelled synthetic formwork-support scene (pure: the same rng state gives the same scene).

The scene is drawn fronto-parallel on a *canvas* whose geometry is a plane in metres (x to the right,
y up, ground at y = 0: the plane of one row of uprights), then warped to the camera image by a
homography (a rotated pinhole camera looking at that plane). Every labelled object is an axis-aligned
rectangle on the canvas, so its image box is the bounding box of its warped part in view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.datagen import draw
from vision.datagen.camera import camera_homography, photometric
from vision.detection import (
    BEAM,
    FORMWORK_PANEL,
    LEDGER,
    PERSON_HELMET,
    PERSON_NO_HELMET,
    TUBE_DIAMETER_M,
    UPRIGHT,
)

PLAN_SPACINGS_M = (0.6, 0.75, 0.8, 0.9, 1.0, 1.05, 1.2, 1.5)
CANVAS_MARGIN = 1.6  # canvas side / image side: room for the perspective warp
# (fill range, helmet probability, soft-cap probability) by default, per `hard`. The --hard
# (held-out) draw never changes without a GENERATOR_VERSION bump.
PEOPLE_DRAW_HARD = ((0.3, 0.9), 0.6, 0.35)
PEOPLE_DRAW_TRAIN = ((0.35, 0.9), 0.5, 0.2)
SHIFT_FILL = (0.25, 0.6)  # the shift draw's cameras sit higher and farther: the row fills less of the frame  # was ((0.45, 0.9), 0.6, 0.0): DATA_CARD.md


@dataclass(frozen=True, slots=True)
class SceneConfig:
    """Knobs of the generator; `hard` widens every range (held-out / stress sets)."""

    width: int = 640
    height: int = 640
    hard: bool = False
    perspective: bool = True
    target_prob: float = 0.5
    target_size_m: tuple[float, float] = (0.4, 0.6)  # side of the chequerboard target, drawn uniformly
    # How people and scale are drawn; None = the draw of `hard` (PEOPLE_DRAW_HARD / PEOPLE_DRAW_TRAIN).
    # A test that needs one exact scene pins all three, so a change of the defaults cannot move it.
    fill: tuple[float, float] | None = None  # fraction of the image height the structure fills
    helmet_prob: float | None = None  # a worker wears a helmet
    soft_cap_prob: float | None = None  # a bare-headed worker wears a soft cap (a hard negative)
    people: tuple[int, int] | None = None  # workers drawn per scene, [low, high); None = the draw of `hard`
    # The "site shift" draw (second held-out set, vision/DATA_CARD.md): other light (night floodlight,
    # low sun, haze), cameras mounted higher and looking down, more clutter (a farther row of unlabelled
    # tubes, safety nets, more stacks). Extra rng draws happen only when True, so every other draw is
    # unchanged.
    shift: bool = False

    def people_draw(self) -> tuple[tuple[float, float], float, float]:
        """(fill range, helmet probability, soft-cap probability) this config draws with."""
        fill, helmet, cap = PEOPLE_DRAW_HARD if self.hard else PEOPLE_DRAW_TRAIN
        return (
            fill if self.fill is None else self.fill,
            helmet if self.helmet_prob is None else self.helmet_prob,
            cap if self.soft_cap_prob is None else self.soft_cap_prob,
        )


@dataclass(slots=True)
class Scene:
    """An image (BGR uint8), its YOLO boxes in pixels (class, x1, y1, x2, y2), and the sidecar truth."""

    image: np.ndarray
    boxes: list[tuple[int, float, float, float, float]]
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class _Obj:
    cls: int
    rect: tuple[float, float, float, float]  # canvas px x1, y1, x2, y2
    ref: int = -1  # index into the uprights list for uprights


def generate_scene(rng: np.random.Generator, cfg: SceneConfig = SceneConfig()) -> Scene:
    """Draw one scene: image, YOLO boxes in pixels and the sidecar truth (spacings, homography)."""
    hard = cfg.hard
    fill_range, helmet_prob, soft_cap_prob = cfg.people_draw()
    cw, ch = int(cfg.width * CANVAS_MARGIN), int(cfg.height * CANVAS_MARGIN)
    support_h = draw.uniform(rng, 2.2, 6.0 if hard else 4.5)
    panel_h = draw.uniform(rng, 0.4, 1.2)
    beam_h = draw.uniform(rng, 0.08, 0.18)
    scene_h = support_h + beam_h + 0.1 + panel_h
    fill = draw.uniform(rng, *fill_range)
    ppm = fill * cfg.height / scene_h  # pixels per metre on the plane, at the image scale ≈ canvas scale
    ground_y = ch / 2 + (scene_h / 2) * ppm * draw.uniform(rng, 0.75, 1.1)
    origin_x = cw / 2 + draw.uniform(rng, -0.5, 0.5) * ppm

    def px(x_m: float) -> float:
        return origin_x + ppm * x_m

    def py(y_m: float) -> float:
        return ground_y - ppm * y_m

    x_min_m, x_max_m = (0 - origin_x) / ppm, (cw - origin_x) / ppm
    img = draw.background(rng, cw, ch, ground_y, hard)
    occ = np.zeros((ch, cw), np.uint8)
    objs: list[_Obj] = []
    if cfg.shift:
        _far_row(rng, img, px, py, support_h, x_min_m, x_max_m)

    # formwork panels above the bearer and the secondary joists
    panel_colour = draw.pick(rng, draw.PANEL_COLOURS)
    joist_top = support_h + beam_h + 0.1
    x = x_min_m - draw.uniform(rng, 0, 1.0)
    while x < x_max_m:
        pw = draw.uniform(rng, 0.9, 2.44)
        seam = draw.uniform(rng, 0.004, 0.02)
        rect = (px(x), py(joist_top + panel_h), px(x + pw - seam), py(joist_top))
        draw.rect(img, *rect, draw.jitter(rng, panel_colour, 12))
        if rng.random() < 0.5:  # battens / stiffeners on the panel face
            for bx in np.arange(x + 0.3, x + pw - 0.2, 0.3):
                draw.rect(img, px(bx), rect[1], px(bx + 0.05), rect[3], draw.jitter(rng, panel_colour, 30))
        objs.append(_Obj(FORMWORK_PANEL, rect))
        x += pw
    draw.rect(img, 0, 0, cw, py(joist_top + panel_h), draw.jitter(rng, (150, 150, 150), 30))  # slab edge
    joist_colour = draw.jitter(rng, (70, 120, 170), 25)
    step = draw.uniform(rng, 0.2, 0.35)
    for jx in np.arange(x_min_m, x_max_m, step):
        draw.rect(img, px(jx), py(joist_top), px(jx + 0.05), py(support_h + beam_h), joist_colour)

    # bearer (beam) on the upright heads
    beam_rect = (0.0, py(support_h + beam_h), float(cw), py(support_h))
    draw.rect(img, *beam_rect, draw.jitter(rng, draw.pick(rng, draw.BEAM_COLOURS)))
    objs.append(_Obj(BEAM, beam_rect))

    # upright positions: the plan spacing, construction scatter, and wide bays (defects, missing props)
    plan = float(draw.pick(rng, PLAN_SPACINGS_M))
    defect_p = 0.25 if hard else 0.15
    xs = [x_min_m + draw.uniform(rng, -plan, 0)]
    while xs[-1] < x_max_m + plan:
        bay = plan + float(rng.normal(0.0, 0.01))
        if rng.random() < defect_p:
            bay += (
                draw.uniform(rng, 0.1, 0.6) * plan if rng.random() < 0.7 else plan
            )  # wider bay / missing upright
        xs.append(xs[-1] + bay)
    tube_colour = draw.pick(rng, draw.TUBE_COLOURS)
    half = TUBE_DIAMETER_M / 2

    # ledgers between adjacent uprights: sweep rod near the ground, then one per step
    step_h = draw.uniform(rng, 1.2, 1.8)
    levels = [draw.uniform(rng, 0.2, 0.35)]
    while levels[-1] + step_h < support_h - 0.2:
        levels.append(levels[-1] + step_h)
    for i in range(len(xs) - 1):
        for lv in levels:
            if rng.random() < 0.04:
                continue  # a missing ledger
            rect = (px(xs[i]), py(lv + half), px(xs[i + 1]), py(lv - half))
            draw.tube(img, *rect, draw.jitter(rng, tube_colour, 10), vertical=False)
            objs.append(_Obj(LEDGER, rect))
    if rng.random() < 0.5:  # diagonal bracing (剪刀撑): unlabelled tubes across a few bays
        i = int(rng.integers(0, max(1, len(xs) - 3)))
        j = min(len(xs) - 1, i + int(rng.integers(2, 4)))
        p1 = (int(px(xs[i]) * draw.ONE), int(py(levels[0]) * draw.ONE))
        p2 = (int(px(xs[j]) * draw.ONE), int(py(levels[-1]) * draw.ONE))
        cv2.line(
            img,
            p1,
            p2,
            draw.jitter(rng, tube_colour, 10),
            max(1, int(TUBE_DIAMETER_M * ppm)),
            cv2.LINE_AA,
            draw.SHIFT,
        )
    uprights = []
    for i, xm in enumerate(xs):
        rect = (px(xm - half), py(support_h), px(xm + half), py(0.0))
        draw.tube(img, *rect, draw.jitter(rng, tube_colour, 8), vertical=True)
        draw.rect(img, px(xm - 0.07), py(0.01), px(xm + 0.07), py(0.0) + 1, (60, 60, 60))  # base plate
        draw.rect(
            img, px(xm - 0.06), py(support_h), px(xm + 0.06), py(support_h - 0.03), (70, 70, 70)
        )  # U-head
        for lv in levels:  # node (cup / ring)
            draw.rect(img, px(xm - 0.045), py(lv + 0.045), px(xm + 0.045), py(lv - 0.045), (80, 80, 80))
        uprights.append({"x_m": round(xm, 5), "bottom_m": 0.0, "top_m": round(support_h, 5)})
        objs.append(_Obj(UPRIGHT, rect, ref=i))

    # calibration target (标靶): a 5 × 5 chequerboard hung in a bay on the plane
    target = None
    if rng.random() < cfg.target_prob:
        size = draw.uniform(rng, *cfg.target_size_m)
        bays = [
            i
            for i in range(len(xs) - 1)
            if xs[i + 1] - xs[i] > size + 0.2 and x_min_m + 1 < xs[i] < x_max_m - 2
        ]
        if bays:
            i = draw.pick(rng, bays)
            tx = (xs[i] + xs[i + 1]) / 2 - size / 2
            ty = draw.uniform(rng, 0.7, min(1.6, support_h - size - 0.1))
            sq = size / 5
            draw.rect(
                img,
                px(tx - sq / 2),
                py(ty + size + sq / 2),
                px(tx + size + sq / 2),
                py(ty - sq / 2),
                (235, 235, 235),
            )
            for r in range(5):
                for c in range(5):
                    if (r + c) % 2 == 0:
                        draw.rect(
                            img,
                            px(tx + c * sq),
                            py(ty + size - r * sq),
                            px(tx + (c + 1) * sq),
                            py(ty + size - (r + 1) * sq),
                            (20, 20, 20),
                        )
            target = {
                "size_m": round(size, 5),
                "squares": 5,
                "corners_m": [[tx, ty + size], [tx + size, ty + size], [tx + size, ty], [tx, ty]],
            }

    # workers standing in front of the row (slightly closer to the camera, so larger)
    persons = []
    low, high = cfg.people if cfg.people is not None else ((0, 8) if hard else (0, 5))
    n_people = int(rng.integers(low, high))
    person_occ = np.zeros_like(occ)
    for _ in range(n_people):
        near = draw.uniform(rng, 1.0, 1.35)
        height_m = draw.uniform(rng, 1.55, 1.85) * near
        fx = px(draw.uniform(rng, x_min_m + 0.3, x_max_m - 0.3))
        fy = py(-(near - 1.0) * 0.6)
        helmet = bool(rng.random() < helmet_prob)
        box = draw.person((img, person_occ), rng, fx, fy, height_m * ppm, helmet, soft_cap_prob)
        persons.append({"helmet": helmet})
        objs.append(_Obj(PERSON_HELMET if helmet else PERSON_NO_HELMET, box, ref=len(persons) - 1))
    # occluders in front of the row: material stacks, a column, a hanging net; unlabelled
    n_occ = int(rng.integers(1, 5)) if hard else int(rng.integers(0, 3))
    if cfg.shift:
        n_occ += int(rng.integers(1, 4))
    for _ in range(n_occ):
        kind = rng.random()
        ox = draw.uniform(rng, x_min_m + 0.5, x_max_m - 1.0)
        if kind < 0.6:
            ow, oh = draw.uniform(rng, 0.5, 2.0), draw.uniform(rng, 0.3, 1.3)
            rect = (px(ox), py(oh), px(ox + ow), py(0) + 0.05 * ppm)
            colour = tuple(int(c) for c in rng.integers(30, 220, size=3))
            draw.rect(img, *rect, colour)
            for sy in np.arange(rect[1], rect[3], max(3.0, 0.08 * ppm)):
                draw.rect(img, rect[0], sy, rect[2], sy + 1.5, tuple(int(c * 0.6) for c in colour))
        elif kind < 0.8:
            ow = draw.uniform(rng, 0.3, 0.7)
            rect = (px(ox), 0.0, px(ox + ow), float(ch))
            draw.rect(img, *rect, draw.jitter(rng, (160, 160, 160), 30))
        else:
            ow, oh = draw.uniform(rng, 0.8, 2.5), draw.uniform(rng, 0.6, 1.8)
            top = draw.uniform(rng, 0.5, max(0.6, support_h - oh))
            rect = (px(ox), py(top + oh), px(ox + ow), py(top))
            draw.rect(img, *rect, draw.jitter(rng, (60, 140, 40), 30))
        draw.rect(occ, *rect, 1)

    hom = camera_homography(rng, cfg.width, cfg.height, cw, ch, hard, cfg.perspective, high=cfg.shift)
    image = cv2.warpPerspective(
        img, hom, (cfg.width, cfg.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    image = photometric(rng, image, hard)
    if cfg.shift:
        image = site_light(rng, image)

    # labels: clip each rectangle to the part of the canvas the camera sees (a convex quad; points
    # outside it may lie behind the camera and would warp to nonsense), warp, take the bounding box
    w_img, h_img = cfg.width, cfg.height
    frame = np.array([[0, 0], [w_img, 0], [w_img, h_img], [0, h_img]], dtype=np.float64).reshape(-1, 1, 2)
    view = cv2.perspectiveTransform(frame, np.linalg.inv(hom)).reshape(-1, 2).astype(np.float32)
    min_visible = 0.25 if hard else 0.35
    combined = cv2.bitwise_or(occ, person_occ)
    boxes: list[tuple[int, float, float, float, float]] = []
    upright_boxes: dict[int, list[float]] = {}
    for o in objs:
        x1, y1, x2, y2 = o.rect
        full_area = (x2 - x1) * (y2 - y1)
        if full_area <= 0:
            continue
        quad = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
        area, poly = cv2.intersectConvexConvex(quad, view)
        if area <= 0 or poly is None:
            continue
        warped = cv2.perspectiveTransform(poly.reshape(-1, 1, 2).astype(np.float64), hom).reshape(-1, 2)
        bx1, by1 = np.clip(warped.min(axis=0), 0, (w_img, h_img))
        bx2, by2 = np.clip(warped.max(axis=0), 0, (w_img, h_img))
        if bx2 - bx1 < 2 or by2 - by1 < 2:
            continue
        if area < 0.3 * full_area and (bx2 - bx1) * (by2 - by1) < 1500:
            continue  # mostly outside the frame
        ix1, iy1 = max(0, int(x1)), max(0, int(y1))
        ix2, iy2 = min(cw, int(np.ceil(x2))), min(ch, int(np.ceil(y2)))
        if ix2 > ix1 and iy2 > iy1:
            mask = occ if o.cls in (PERSON_HELMET, PERSON_NO_HELMET) else combined
            if 1.0 - float(mask[iy1:iy2, ix1:ix2].mean()) < min_visible:
                continue
        box = [round(float(v), 3) for v in (bx1, by1, bx2, by2)]
        boxes.append((o.cls, *box))
        if o.cls == UPRIGHT:
            upright_boxes[o.ref] = box
        elif o.cls in (PERSON_HELMET, PERSON_NO_HELMET):
            persons[o.ref]["box"] = box

    plane_to_canvas = np.array([[ppm, 0, origin_x], [0, -ppm, ground_y], [0, 0, 1]])
    plane_to_image = hom @ plane_to_canvas
    plane_to_image /= plane_to_image[2, 2]
    for i, u in enumerate(uprights):
        u["box"] = upright_boxes.get(i)
    spacings = [
        {
            "left": i,
            "right": i + 1,
            "spacing_m": round(xs[i + 1] - xs[i], 5),
            "over_plan": bool(xs[i + 1] - xs[i] > plan + 0.05),
        }
        for i in range(len(xs) - 1)
        if i in upright_boxes and i + 1 in upright_boxes
    ]
    if target is not None:
        pts = np.array(target["corners_m"], dtype=np.float64).reshape(-1, 1, 2)
        target["corners_px"] = np.round(
            cv2.perspectiveTransform(pts, plane_to_image).reshape(-1, 2), 3
        ).tolist()
        target["corners_m"] = np.round(np.array(target["corners_m"]), 5).tolist()
    meta = {
        "width": cfg.width,
        "height": cfg.height,
        "hard": hard,
        "plan_spacing_m": plan,
        "step_m": round(step_h, 4),
        "pixels_per_metre_fronto": round(ppm, 3),
        "plane_to_image": np.round(plane_to_image, 9).tolist(),
        "uprights": uprights,
        "spacings": spacings,
        "target": target,
        "persons": persons,
    }
    if cfg.shift:
        meta["shift"] = True
    return Scene(image=image, boxes=boxes, meta=meta)


def _far_row(rng: np.random.Generator, img: np.ndarray, px, py, support_h: float, x_min_m: float,
             x_max_m: float) -> None:
    """Clutter behind the labelled row: a farther row of thinner, hazier tubes (not on the plane, so not
    labelled) and sometimes a green safety net hung across part of it."""
    spacing = draw.uniform(rng, 0.6, 1.5)
    offset = draw.uniform(rng, 0.0, spacing)
    scale = draw.uniform(rng, 0.55, 0.8)  # farther away: thinner and shorter
    colour = draw.jitter(rng, (170, 170, 170), 30)
    half = TUBE_DIAMETER_M * scale / 2
    top = support_h * draw.uniform(rng, 0.85, 1.0)
    for xm in np.arange(x_min_m + offset, x_max_m, spacing):
        draw.tube(img, px(xm - half), py(top), px(xm + half), py(0.25), colour, vertical=True)
    for lv in np.arange(draw.uniform(rng, 0.4, 0.8), top, draw.uniform(rng, 1.2, 1.8)):
        draw.rect(img, 0, py(lv + half), img.shape[1], py(lv - half), colour)
    if rng.random() < 0.6:
        x0 = draw.uniform(rng, x_min_m, x_max_m - 2.0)
        x1 = x0 + draw.uniform(rng, 1.5, 4.0)
        mesh = max(3, int(0.08 * (px(1.0) - px(0.0))))
        net = draw.jitter(rng, (50, 120, 40), 25)
        y1, y2 = int(py(top)), int(py(0.3))
        for gx in range(int(px(x0)), int(px(x1)), mesh):
            cv2.line(img, (gx, y1), (gx, y2), net, 1)
        for gy in range(y1, y2, mesh):
            cv2.line(img, (int(px(x0)), gy), (int(px(x1)), gy), net, 1)


def site_light(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """The shift draw's light, after the usual photometry: a sodium floodlight at night, a low sun with a
    hard shadow edge, or haze."""
    h, w = image.shape[:2]
    kind = rng.random()
    img = image.astype(np.float32)
    if kind < 0.4:  # night: dark, orange cast, one bright pool of light
        img *= np.float32(draw.uniform(rng, 0.25, 0.5))
        img *= np.array([0.6, 0.85, 1.2], np.float32)
        cx, cy = draw.uniform(rng, 0, w), draw.uniform(rng, 0, h)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.float32(draw.uniform(rng, 0.3, 0.7) * max(w, h))
        pool = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img *= (1.0 + np.float32(draw.uniform(rng, 1.0, 2.5)) * pool)[..., None]
        img += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(draw.uniform(rng, 4, 12))
    elif kind < 0.7:  # low sun: high contrast, a hard shadow edge across the frame
        img = (img - 128.0) * np.float32(draw.uniform(rng, 1.2, 1.6)) + 128.0 + np.float32(draw.uniform(rng, 0, 40))
        angle = draw.uniform(rng, 0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        side = (xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle) > draw.uniform(rng, -0.3, 0.3) * w
        img[side] *= np.float32(draw.uniform(rng, 0.3, 0.55))
    else:  # haze / dust: low contrast towards a bright grey
        a = np.float32(draw.uniform(rng, 0.35, 0.6))
        img = img * (1 - a) + a * np.float32(draw.uniform(rng, 170, 230))
    return np.clip(img, 0, 255).astype(np.uint8)
