"""The test scene, the model the tests run (shipped weights when present, else an oracle graph), a camera.

Scene: seed 808, image 387 of `CONFIG` — one worker without a helmet, large and clear (113 × 248 px),
plan spacing 0.75 m with three bays wider than the plan (1.126, 0.884, 1.494 m — the last a missing
upright) and one within it (0.737 m), and a 1 m chequerboard on the plane whose true corners serve as
the camera's calibration. Every knob of `CONFIG` is pinned here, so a change of the generator's
defaults (how training scenes are drawn) cannot move the scene; `test_scene.py` checks the facts above.

The model: `ZHIJIAN_TEST_VISION_MODEL` (a path, `shipped` for `vision/models/zhijian-yolov8n.onnx`, or
`oracle`), by default the shipped weights. The *oracle* is a constant ONNX graph that outputs the
scene's ground-truth boxes, so the runtime (letterbox, decode, rules, evidence, alerts) is tested
exactly without trained weights; the tests check the exact boxes and verdicts with it, and the
verdicts that matter (one no-helmet alert, spacing bays within their bands) with the shipped model.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from vision.datagen import Scene, SceneConfig, generate_scene, scene_rng
from vision.detection import CLASSES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "vision" / "models" / "zhijian-yolov8n.onnx"
SEED, INDEX = 808, 387
CONFIG = SceneConfig(
    width=640, height=640, hard=False, perspective=True, target_prob=1.0, target_size_m=(1.0, 1.2),
    fill=(0.45, 0.9), helmet_prob=0.6, soft_cap_prob=0.0, people=(0, 5),
)


@cache
def scene() -> Scene:
    return generate_scene(scene_rng(SEED, INDEX, False), CONFIG)


@cache
def scene_jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", scene().image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def oracle_model(path: Path, s: Scene, score: float = 0.9) -> Path:
    """A constant ONNX graph emitting the scene's true boxes ([1, 4 + nc, N], network px of a 640 frame)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    size = s.meta["width"]
    assert s.meta["height"] == size, "the oracle assumes a square frame (identity letterbox)"
    out = np.zeros((1, 4 + len(CLASSES), max(1, len(s.boxes))), np.float32)
    for a, (cls, x1, y1, x2, y2) in enumerate(s.boxes):
        out[0, :4, a] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        out[0, 4 + cls, a] = score
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["const", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "oracle",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        initializer=[numpy_helper.from_array(out, "const"), numpy_helper.from_array(np.zeros_like(out), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({"names": list(CLASSES), "imgsz": size}))
    return path


@dataclass(frozen=True)
class Model:
    path: Path
    oracle: bool


def test_model(tmp_dir: Path, chosen: str | None = None) -> Model:
    chosen = chosen or os.environ.get("ZHIJIAN_TEST_VISION_MODEL")
    if chosen == "oracle":
        return Model(oracle_model(tmp_dir / "oracle.onnx", scene()), True)
    if chosen == "shipped":
        return Model(SHIPPED, False)
    if chosen:
        return Model(Path(chosen), False)
    # The shipped weights with their helmet classifier (this scene's bare-headed worker: person_no_helmet
    # 0.85); `ZHIJIAN_TEST_VISION_MODEL=oracle` tests the runtime against exact boxes instead.
    if SHIPPED.is_file():
        return Model(SHIPPED, False)
    return Model(oracle_model(tmp_dir / "oracle.onnx", scene()), True)


class SnapshotCamera:
    """A local HTTP camera: GET /snapshot.jpg answers the scene's JPEG and counts the pulls."""

    def __init__(self, body: bytes) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/snapshot.jpg":
                    self.send_error(404)
                    return
                camera.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/snapshot.jpg"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
