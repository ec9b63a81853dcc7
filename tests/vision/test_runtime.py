"""The runtime path without services: torch stays out, calibrations rebuild from stored JSON, evidence."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.cameras.scene import oracle_model, scene
from vision.analysis import analyse, calibration_from, decode_frame, draw_evidence
from vision.detector import Detector

ROOT = Path(__file__).resolve().parents[2]


def test_worker_import_and_an_analysis_never_import_torch(tmp_path):
    model = oracle_model(tmp_path / "oracle.onnx", scene())
    code = textwrap.dedent(f"""
        import sys
        import vision.worker
        from tests.cameras.scene import scene
        from vision.analysis import analyse, draw_evidence
        from vision.detector import Detector
        det = Detector({str(model)!r})
        a, _ = analyse(det, scene().image, {{"calibration": {{"kind": "scale", "pixels_per_metre": 100}},
                                             "plan_spacing_m": 0.75}})
        draw_evidence(scene().image, a)
        assert a.detections, a
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "ultralytics", "torchvision"))
        print("OK" if not bad else bad)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK"


def test_oracle_analysis_finds_the_scene_risks(tmp_path):
    det = Detector(oracle_model(tmp_path / "oracle.onnx", scene()))
    t = scene().meta["target"]
    camera = {"calibration": {"kind": "target", "corners_px": t["corners_px"], "corners_m": t["corners_m"]},
              "plan_spacing_m": 0.75, "support_system": "cuplock_q235"}
    a, dets = analyse(det, scene().image, camera)
    assert len(dets) == len(scene().boxes)
    assert {r.rule: r.verdict for r in a.rules} == {"no_helmet": "fail", "spacing": "fail"}
    assert len(a.helmet) == 1
    jpeg = draw_evidence(scene().image, a)
    img = decode_frame(jpeg)
    assert img.shape == scene().image.shape
    x1, y1, x2, _ = (round(v) for v in a.helmet[0].box)
    red = img[y1 - 1:y1 + 2, x1:x2]  # the no-helmet box is drawn in red, 3 px
    assert (red[..., 2].astype(int) - red[..., 1].astype(int)).mean() > 80


@pytest.mark.parametrize(
    ("camera", "verdict", "reason"),
    [
        ({"calibration": None, "plan_spacing_m": 0.75}, "not_checked", "no_calibration"),
        ({"calibration": {"kind": "scale", "pixels_per_metre": 100}, "plan_spacing_m": None}, "not_checked",
         "no_plan_value"),
    ],
)
def test_spacing_not_checked_says_why(tmp_path, camera, verdict, reason):
    det = Detector(oracle_model(tmp_path / "oracle.onnx", scene()))
    a, _ = analyse(det, scene().image, camera)
    spacing = next(r for r in a.rules if r.rule == "spacing")
    assert (spacing.verdict, spacing.reason) == (verdict, reason)


def test_too_few_uprights(tmp_path):
    s = scene()
    blank = np.full_like(s.image, 127)
    det = Detector(oracle_model(tmp_path / "oracle.onnx", type(s)(image=blank, boxes=[], meta=s.meta)))
    a, _ = analyse(det, blank, {"calibration": {"kind": "scale", "pixels_per_metre": 100}, "plan_spacing_m": 1.0})
    assert [(r.rule, r.verdict, r.reason) for r in a.rules] == [
        ("no_helmet", "pass", ""), ("spacing", "not_checked", "fewer_than_two_uprights")]


@pytest.mark.parametrize(
    ("stored", "px", "metres"),
    [
        ({"kind": "scale", "pixels_per_metre": 200.0}, (400.0, 0.0), 2.0),
        ({"kind": "tube", "widths_px": [9.66, 9.66]}, (200.0, 0.0), 1.0),  # 48.3 mm = 9.66 px → 200 px/m
        ({"kind": "target", "corners_px": [[0, 0], [100, 0], [100, 100], [0, 100]],
          "corners_m": [[0, 1], [1, 1], [1, 0], [0, 0]]}, (250.0, 0.0), 2.5),
    ],
)
def test_calibration_from_stored_measurements(stored, px, metres):
    cal = calibration_from(stored)
    a, b = cal.to_plane(np.array([[0.0, 0.0], px]))
    assert abs(b[0] - a[0]) == pytest.approx(metres, rel=1e-6)
    assert len(cal.ensemble) == 64


def test_scale_calibration_band_follows_its_relative_error():
    cal = calibration_from({"kind": "scale", "pixels_per_metre": 100.0, "scale_sigma_rel": 0.02})
    xs = cal.to_plane_ensemble(np.array([[0.0, 0.0], [100.0, 0.0]]))[..., 0]
    spread = np.std(xs[:, 1] - xs[:, 0])
    assert 0.012 < spread < 0.03  # 2 % of 1 m, from 64 seeded members
    assert calibration_from(None) is None


def test_decode_frame_refuses_non_images():
    with pytest.raises(ValueError):
        decode_frame(b"not an image")
    _, buf = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))
    assert decode_frame(buf.tobytes()).shape == (10, 10, 3)


def test_stream_capture_reads_one_frame(tmp_path):
    """grab_rtsp goes through cv2.VideoCapture (FFmpeg), which also opens a local file: one frame comes back."""
    from vision.worker import grab_rtsp

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (320, 240))
    for k in range(3):
        writer.write(np.full((240, 320, 3), 40 * (k + 1), np.uint8))
    writer.release()
    frame = grab_rtsp(str(path), timeout_s=5)
    assert frame.shape == (240, 320, 3)
    with pytest.raises(ValueError):
        grab_rtsp(str(tmp_path / "nothing.avi"), timeout_s=1)
