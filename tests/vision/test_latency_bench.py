"""bench/vision_latency.py as a tool: it runs the shipped model through the runtime path in a fresh process
and hands its figures to bench/run_all.py; its box agreement counts what it says. No timing is asserted
here (speed goals live in the bench's printed figures, not in tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.vision_latency import agreement

ROOT = Path(__file__).resolve().parents[2]


def test_runtime_only_run_emits_its_figures(tmp_path):
    results = tmp_path / "results.jsonl"
    out = subprocess.run(
        [sys.executable, "bench/vision_latency.py", "--runtime-only", "--frames", "4", "--rounds", "1",
         "--threads", "1"],
        cwd=ROOT, env={**os.environ, "BENCH_RESULTS": str(results)}, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "runtime path (analyse, onnxruntime)" in out.stdout and "load average" in out.stdout
    figures = {f["name"]: f for f in map(json.loads, results.read_text().splitlines())}
    assert {f["bench"] for f in figures.values()} == {"vision_latency"}
    assert figures["torch or ultralytics imported by the runtime"]["value"] == 0
    assert figures["torch or ultralytics imported by the runtime"]["met"] is True
    rss = figures["runtime peak RSS"]
    assert 50 < rss["value"] < 2000 and rss["unit"] == "MB" and rss["met"] == (rss["value"] < 600)
    assert figures["runtime path p95"]["value"] > 0


def test_agreement_counts_same_class_boxes_at_iou_0_9():
    theirs = [[[0, 100.0, 100.0, 200.0, 200.0, 0.9],  # ours has it, 2 px off: IoU 0.96
               [4, 300.0, 300.0, 340.0, 400.0, 0.8],  # ours has the box but as the other person class
               [1, 10.0, 10.0, 110.0, 30.0, 0.7]],  # ours is 10 px off on a 20-px-high box: IoU < 0.9
              [[2, 0.0, 0.0, 50.0, 50.0, 0.6]]]  # frame 2: exactly the same box
    ours = [[[0, 102.0, 100.0, 202.0, 200.0, 0.88],
             [5, 300.0, 300.0, 340.0, 400.0, 0.8],
             [1, 10.0, 20.0, 110.0, 40.0, 0.7],
             [3, 500.0, 500.0, 600.0, 600.0, 0.5]],  # a box ultralytics did not find
            [[2, 0.0, 0.0, 50.0, 50.0, 0.61]]]
    assert agreement(ours, theirs) == {"ultralytics_boxes": 4, "runtime_boxes": 5, "matched": 2}
    assert agreement(ours, theirs, min_iou=0.3)["matched"] == 3


def test_numpy_box_decode_gives_the_graphs_boxes():
    """vision.yolo_head: the shipped model without its DFL tail, boxes decoded for the candidates only,
    finds the same boxes as the whole graph on camera frames of two sizes."""
    import numpy as np

    from vision.datagen import SceneConfig, generate_scene, scene_rng
    from vision.detector import Detector

    model = ROOT / "vision" / "models" / "zhijian-yolov8n.onnx"
    cut, whole = Detector(model, backend="onnxruntime"), Detector(model, backend="onnxruntime", decode_tail=False)
    assert cut._head is not None and whole._head is None
    found = 0
    for i, (w, h) in enumerate([(640, 640)] * 4 + [(1280, 720)] * 4):
        frame = generate_scene(scene_rng(4242, i, True), SceneConfig(width=w, height=h)).image
        a, b = cut.detect(frame), whole.detect(frame)
        assert [d.class_id for d in a] == [d.class_id for d in b]
        for x, y in zip(a, b, strict=True):
            assert np.allclose((x.x1, x.y1, x.x2, x.y2), (y.x1, y.y1, y.x2, y.y2), atol=1e-2)
            assert abs(x.confidence - y.confidence) < 1e-3
        found += len(a)
    assert found > 40  # the frames have scaffolds and workers: a cut graph that found nothing would fail


def test_a_graph_that_is_not_a_v8_head_runs_whole(tmp_path):
    from tests.vision.test_detector import _model
    from vision.detector import Detector

    assert Detector(_model(tmp_path), backend="onnxruntime")._head is None
