"""The helmet stage: head crops from worker boxes, the shipped classifier on both backends, the verdict
it gives each worker, and how the detector hands it the workers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import helmet
from vision.datagen import SceneConfig, generate_scene, scene_rng
from vision.detection import BEAM, PERSON_HELMET, PERSON_NO_HELMET, Detection
from vision.detector import decode, letterbox
from vision.onnx_model import available_backends

MODELS = Path(__file__).resolve().parents[2] / "vision" / "models"
SIDECAR = json.loads((MODELS / "zhijian-yolov8n.json").read_text())


def test_head_region_is_a_square_at_the_top_of_the_worker():
    x1, y1, x2, y2 = helmet.head_region((100.0, 50.0, 140.0, 150.0))
    assert x2 - x1 == pytest.approx(helmet.CROP_SIDE * 40) and y2 - y1 == pytest.approx(x2 - x1)
    assert (x1 + x2) / 2 == pytest.approx(120.0) and y1 == pytest.approx(50.0 - helmet.CROP_LIFT * 40)


def test_crops_are_rgb_of_the_region_and_edges_are_padded():
    image = np.zeros((200, 200, 3), np.uint8)
    image[40:80, 100:140] = (255, 0, 0)  # blue in BGR
    crops = helmet.head_crops(image, [(95.0, 30.0, 145.0, 190.0), (-30.0, -20.0, 10.0, 60.0)])
    assert crops.shape == (2, 3, helmet.CROP_PX, helmet.CROP_PX) and crops.dtype == np.float32
    centre = crops[0, :, helmet.CROP_PX // 2, helmet.CROP_PX // 2]
    assert centre.tolist() == pytest.approx([0.0, 0.0, 1.0])  # R, G, B
    assert np.isfinite(crops[1]).all() and crops[1].max() == 0.0  # past the corner: the black edge repeated


def test_every_generated_head_lies_inside_its_crop():
    # the crop geometry covers the drawn head whatever the pose (an arm raised above it included):
    # vision/datagen/draw.py person() draws a worker of height h with a box 0.41 h wide, the head's
    # lowest point 0.775 h above the feet (seen square on: no perspective to bend the box)
    cfg = SceneConfig(hard=True, people=(6, 8), perspective=False)
    inside = []
    for index in range(24):
        s = generate_scene(scene_rng(4242, index, True), cfg)
        for p in s.meta["persons"]:
            if "box" not in p:
                continue  # hidden: no box
            x1, y1, x2, y2 = p["box"]
            if x1 <= 0 or y1 <= 0 or x2 >= s.meta["width"] or y2 >= s.meta["height"]:
                continue  # clipped by the frame: its height is not known from the box
            h = (x2 - x1) / 0.41
            hx1, hy1, hx2, hy2 = helmet.head_region(p["box"])
            inside.append(hy1 <= y1 and y2 - 0.775 * h <= hy2 and hx1 < (x1 + x2) / 2 < hx2)
    assert len(inside) > 40 and all(inside)


@pytest.fixture(scope="module")
def classifiers():
    return {b: helmet.load(SIDECAR, MODELS, b) for b in available_backends()}


def test_shipped_sidecar_names_the_classifier_and_its_geometry():
    entry = SIDECAR["helmet"]
    assert (MODELS / entry["model"]).is_file() and (MODELS / entry["model"]).stat().st_size < 2 * 1024 * 1024
    import onnx

    spec = helmet.HelmetSpec.from_sidecar(entry)
    dims = [d.dim_value or d.dim_param for d in
            onnx.load(str(MODELS / spec.model)).graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [3, spec.crop_px, spec.crop_px]  # the crops the runtime cuts are the ones it takes
    run = json.loads((MODELS / "zhijian-yolov8n-helmet.metrics.json").read_text())
    assert 9001 not in [*run["train_seeds"], run["val_seed"]]  # never the held-out seed


def test_classifier_tells_heads_apart_on_scenes_it_never_saw(classifiers):
    # held-out seed and the hard draw; true worker boxes: most bare heads and most helmets called right
    image_boxes = []
    for index in range(80):
        s = generate_scene(scene_rng(9001, index, True), SceneConfig(hard=True))
        image_boxes += [(s.image, p["box"], not p["helmet"]) for p in s.meta["persons"] if "box" in p]
    results = {}
    for backend, clf in classifiers.items():
        p = np.concatenate([clf.p_bare(img, [box]) for img, box, _ in image_boxes])
        results[backend] = p
        bare = np.array([b for *_, b in image_boxes])
        assert len(bare) > 100 and 0.2 < bare.mean() < 0.8
        assert ((p >= 0.5) == bare).mean() >= 0.8, ((p >= 0.5) == bare).mean()
    if len(results) == 2:  # onnxruntime and OpenCV DNN run the same graph
        assert np.allclose(results["onnxruntime"], results["opencv"], atol=1e-4)


def test_reclassify_sets_class_and_confidence_and_orders_best_first():
    dets = [
        Detection(0, 0, 10, 30, PERSON_HELMET, 0.9),
        Detection(20, 0, 30, 30, BEAM, 0.5),
        Detection(40, 0, 50, 30, PERSON_HELMET, 0.8),
    ]
    out = helmet.reclassify(dets, np.array([0.9, 0.2]))
    assert [(d.x1, d.class_id) for d in out] == [(0, PERSON_NO_HELMET), (40, PERSON_HELMET), (20, BEAM)]
    assert [round(d.confidence, 4) for d in out] == [0.81, 0.64, 0.5]


def test_decode_merges_the_two_person_scores_for_the_classifier():
    # one anchor unsure which person class (0.4 / 0.35): as two classes neither reaches 0.45, as a worker 0.75
    out = np.zeros((1, 10, 1), np.float32)
    out[0, :4, 0] = (100, 100, 40, 120)
    out[0, 4 + PERSON_HELMET, 0], out[0, 4 + PERSON_NO_HELMET, 0] = 0.4, 0.35
    _, box = letterbox(np.zeros((320, 320, 3), np.uint8), 320)
    assert decode(out, box, 320, 320, conf_threshold=0.45) == []
    [d] = decode(out, box, 320, 320, conf_threshold=0.45, merge_persons=True)
    assert d.class_id == PERSON_HELMET and d.confidence == pytest.approx(0.75)


def test_detector_without_the_stage_keeps_the_network_classes(tmp_path):
    from tests.cameras.scene import scene, scene_jpeg
    from vision.detector import Detector

    image = cv2.imdecode(np.frombuffer(scene_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    with_stage = Detector(MODELS / "zhijian-yolov8n.onnx")
    without = Detector(MODELS / "zhijian-yolov8n.onnx", helmet=False)
    assert with_stage.helmet is not None and without.helmet is None
    [truth] = scene().meta["persons"]
    assert truth["helmet"] is False
    workers = [d for d in with_stage.detect(image) if d.class_id in (PERSON_HELMET, PERSON_NO_HELMET)]
    # the scene's one worker, bare-headed: found once, called bare, above the alert threshold
    assert [d.class_id for d in workers] == [PERSON_NO_HELMET] and workers[0].confidence >= 0.5
    raw = [d for d in without.detect(image) if d.class_id in (PERSON_HELMET, PERSON_NO_HELMET)]
    assert len(raw) >= 1 and all(d.confidence < 0.5 for d in raw)  # the network alone is unsure
