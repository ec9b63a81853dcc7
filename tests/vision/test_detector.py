"""Runtime detector without trained weights: a tiny ONNX graph emits a known head output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vision.detection import CLASSES
from vision.detector import Detector, Letterbox, decode, letterbox
from vision.onnx_model import available_backends

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

SIZE = 640
NC = len(CLASSES)
N_ANCHORS = 8
WHITE_MEAN = (640 * 360 * 1.0 + 640 * 280 * (114 / 255)) / (640 * 640)  # 1280×720 white, letterboxed


def _head_output() -> tuple[np.ndarray, np.ndarray]:
    """Fixed [1, 4 + nc, N] output in network pixels, and a mask scaled by the input's mean."""
    out = np.zeros((1, 4 + NC, N_ANCHORS), np.float32)
    mask = np.zeros_like(out)

    def put(a, cx, cy, w, h, cls, score):
        out[0, :4, a] = (cx, cy, w, h)
        out[0, 4 + cls, a] = score

    put(0, 100, 290, 100, 100, 0, 0.9)  # original (100, 200)–(300, 400)
    put(1, 105, 290, 100, 100, 0, 0.8)  # a near duplicate: suppressed by NMS
    put(2, 100, 290, 100, 100, 4, 0.7)  # same place, another class: kept
    put(3, 300, 300, 50, 50, 1, 0.1)  # below the confidence threshold
    put(4, 600, 150, 100, 40, 5, 0.6)  # reaches into the padding: clipped
    put(5, 320, 320, 64, 32, 3, 0.0)  # its score is the input's mean (checks preprocessing)
    mask[0, 4 + 3, 5] = 1.0
    return out, mask


def _model(tmp_path) -> str:
    const, mask = _head_output()
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "mask"], ["scaled"]),
        helper.make_node("Add", ["const", "scaled"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed_head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + NC, N_ANCHORS])],
        initializer=[numpy_helper.from_array(const, "const"), numpy_helper.from_array(mask, "mask")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / "fixed.onnx"
    onnx.save(model, str(path))
    (tmp_path / "fixed.json").write_text(json.dumps({"names": list(CLASSES), "imgsz": SIZE}))
    return str(path)


@pytest.mark.parametrize("backend", available_backends())
def test_detector_end_to_end_maps_boxes_back(tmp_path, backend):
    detector = Detector(_model(tmp_path), backend=backend)
    image = np.full((720, 1280, 3), 255, np.uint8)
    dets = detector.detect(image)
    got = [(d.class_id, tuple(round(v, 3) for v in (d.x1, d.y1, d.x2, d.y2))) for d in dets]
    assert got == [
        (0, (100.0, 200.0, 300.0, 400.0)),
        (3, (576.0, 328.0, 704.0, 392.0)),
        (4, (100.0, 200.0, 300.0, 400.0)),
        (5, (1100.0, 0.0, 1280.0, 60.0)),
    ]
    # the mean of the letterboxed blob (white image, grey padding, / 255) comes back as a score;
    # float32 summation over 1.2 M values in the runtimes costs a few 1e-4
    assert [d.confidence for d in dets] == pytest.approx([0.9, WHITE_MEAN, 0.7, 0.6], abs=2e-3)
    assert dets[0].class_name == "upright"


def test_backends_agree(tmp_path):
    backends = available_backends()
    if len(backends) < 2:
        pytest.skip("onnxruntime not installed")
    path = _model(tmp_path)
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    a, b = (Detector(path, backend=k).detect(image) for k in backends)
    assert [(d.class_id, round(d.x1, 3), round(d.y2, 3)) for d in a] == [
        (d.class_id, round(d.x1, 3), round(d.y2, 3)) for d in b
    ]
    assert np.allclose(
        [d.confidence for d in a], [d.confidence for d in b], atol=1e-3
    )  # float32 mean of the input differs by ~2e-4


@pytest.mark.parametrize(
    ("h", "w", "scale", "pad_x", "pad_y"),
    [
        (720, 1280, 0.5, 0.0, 140.0),
        (640, 640, 1.0, 0.0, 0.0),
        (100, 50, 6.4, 160.0, 0.0),  # upscaled, padded left and right
        (480, 641, 640 / 641, 0.0, 80.0),  # 479.25 rows → 479; 161 rows of padding: 80 above, 81 below
    ],
)
def test_letterbox_geometry(h, w, scale, pad_x, pad_y):
    padded, box = letterbox(np.zeros((h, w, 3), np.uint8), 640)
    assert padded.shape == (640, 640, 3)
    assert box.scale == pytest.approx(scale)
    assert (box.pad_x, box.pad_y) == (pad_x, pad_y)


def test_letterbox_odd_padding_goes_to_the_far_side():
    padded, box = letterbox(np.zeros((481, 640, 3), np.uint8), 640)  # 159 rows of padding
    assert padded.shape == (640, 640, 3)
    assert box.pad_y == 79.0  # round(79.5 - 0.1): 79 above, 80 below, as ultralytics pads
    assert (padded[:79] == 114).all() and (padded[79:560] == 0).all() and (padded[560:] == 114).all()


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((50, 240, 150, 340), (100, 200, 300, 400)),
        ((-10, 130, 10, 141), (0, 0, 20, 2)),  # left of and above the image: clipped at 0
        ((630, 490, 700, 520), (1260, 700, 1280, 720)),  # beyond the bottom-right: clipped at the size
    ],
)
def test_to_original_clips_at_both_edges(box, expected):
    lb = Letterbox(scale=0.5, pad_x=0.0, pad_y=140.0, size=640)
    assert tuple(lb.to_original(np.array([box]), 1280, 720)[0]) == pytest.approx(expected)


@pytest.mark.parametrize(("score", "kept"), [(0.2499, 0), (0.25, 1), (0.2501, 1)])
def test_confidence_threshold_both_sides(score, kept):
    out = np.zeros((1, 4 + NC, 1), np.float32)
    out[0, :4, 0] = (320, 320, 10, 10)
    out[0, 4, 0] = score
    lb = Letterbox(1.0, 0.0, 0.0, 640)
    assert len(decode(out, lb, 640, 640, conf_threshold=np.float32(0.25))) == kept


@pytest.mark.parametrize(("shift", "kept"), [(0, 1), (10, 1), (40, 2), (60, 2)])
def test_nms_iou_boundary(shift, kept):
    # two 100 × 100 boxes shifted by `shift` px: IoU = (100 - s) / (100 + s); 0.45 lies between s = 10 and 40
    out = np.zeros((1, 4 + NC, 2), np.float32)
    out[0, :4, 0] = (200, 200, 100, 100)
    out[0, :4, 1] = (200 + shift, 200, 100, 100)
    out[0, 4, :] = (0.9, 0.8)
    lb = Letterbox(1.0, 0.0, 0.0, 640)
    assert len(decode(out, lb, 640, 640, iou_threshold=0.45)) == kept


def test_no_classes_and_no_boxes():
    lb = Letterbox(1.0, 0.0, 0.0, 640)
    assert decode(np.zeros((1, 4, 5), np.float32), lb, 640, 640) == []
    assert decode(np.zeros((1, 4 + NC, 5), np.float32), lb, 640, 640) == []
