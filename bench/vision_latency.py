"""Per-frame latency of the vision runtime path beside ultralytics' own predict on the same weights, in one run.

    .venv/bin/python bench/vision_latency.py [--frames 60] [--threads 2] [--rounds 3]
                                             [--model vision/models/zhijian-yolov8n.onnx]
                                             [--train-python .venv-train/bin/python]

Frames: 640 × 640 scenes from `vision.datagen` (seed 4242), decoded once and handed to both sides as
the same BGR arrays (a .npy file). Each side runs in its own fresh process, so each one's memory is
its own:
- runtime: `vision.analysis.analyse` as the vision worker calls it — letterbox, ONNX (onnxruntime, or
  OpenCV DNN with --backend opencv), decode + NMS, helmet and spacing rules — timed per frame, and
  `Detector.detect` alone; peak RSS (VmHWM) after importing `vision.worker` and running every frame,
  and whether torch / ultralytics got imported (they must not);
- ultralytics: `YOLO(model.pt).predict(frame, imgsz=<the model's imgsz>, device="cpu")` in the training
  venv (torch), same number of threads, timed per call (its pre/post-processing included).
Both warm up on 3 frames first. With --rounds N the two sides alternate N times (the machine is shared:
alternating shows whether a neighbour's load hit one side only). Targets (issue 8): the runtime no
slower than ultralytics, < 150 ms per 640-px frame on 2 cores, RSS < 600 MB; issue 21: the runtime path
≥ 1.5× faster than ultralytics' predict (ratio of the p50s, printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._support import bound, emit, loadavg, relation

WARMUP = 3


def _stats(ms: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(ms)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()),
            "n": len(ms)}


def _vm(field: str) -> float:
    """VmRSS / VmHWM of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def make_frames(path: Path, count: int, seed: int = 4242) -> None:
    import numpy as np

    from vision.datagen import SceneConfig, generate_scene, scene_rng

    frames = [generate_scene(scene_rng(seed, i, False), SceneConfig(width=640, height=640)).image
              for i in range(count)]
    np.save(path, np.stack(frames))


def child_runtime(frames_path: str, model: str, threads: int, backend: str) -> dict:
    """The vision worker's own path, in a fresh process (no torch anywhere on it)."""
    import cv2
    import numpy as np

    import vision.worker  # noqa: F401 - the worker's whole import graph, as it runs in production
    from vision.analysis import analyse
    from vision.detector import Detector

    cv2.setNumThreads(threads)
    frames = np.load(frames_path)
    detector = Detector(model, backend=backend, threads=threads)
    camera = {"calibration": {"kind": "scale", "pixels_per_metre": 100.0}, "plan_spacing_m": 0.9,
              "support_system": "cuplock_q235", "allowance_m": 0.0}
    from backend.settings import Settings

    s = Settings()  # the worker's shipped thresholds (issue 21): helmet, upright, ledger guard
    thresholds = (s.VISION_HELMET_CONF, None, s.VISION_UPRIGHT_CONF, s.VISION_LEDGER_GUARD)
    for f in frames[:WARMUP]:
        analyse(detector, f, camera, *thresholds)
    path_ms, detect_ms = [], []
    for f in frames:
        t0 = time.perf_counter()
        analyse(detector, f, camera, *thresholds)
        path_ms.append((time.perf_counter() - t0) * 1000)
    boxes = []
    for f in frames:
        t0 = time.perf_counter()
        dets = detector.detect(f)
        detect_ms.append((time.perf_counter() - t0) * 1000)
        boxes.append([[d.class_id, d.x1, d.y1, d.x2, d.y2, d.confidence] for d in dets])
    return {"boxes": boxes, "backend": detector.backend, "imgsz": detector.size, "path": _stats(path_ms), "detect": _stats(detect_ms),
            "rss_mb": _vm("VmRSS"), "peak_rss_mb": _vm("VmHWM"), "torch_imported": "torch" in sys.modules,
            "ultralytics_imported": "ultralytics" in sys.modules}


ULTRA_CHILD = r"""
import json, sys, time
import numpy as np
import torch
frames_path, weights, imgsz, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
from ultralytics import YOLO
frames = np.load(frames_path)
model = YOLO(weights)
for f in frames[:3]:
    model.predict(f, imgsz=imgsz, device="cpu", conf=0.25, iou=0.45, verbose=False)
ms, boxes = [], []
for f in frames:
    t0 = time.perf_counter()
    r = model.predict(f, imgsz=imgsz, device="cpu", conf=0.25, iou=0.45, verbose=False)[0]
    ms.append((time.perf_counter() - t0) * 1000)
    boxes.append([[int(c), *xyxy, float(p)] for c, xyxy, p in
                  zip(r.boxes.cls.tolist(), r.boxes.xyxy.tolist(), r.boxes.conf.tolist())])
def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
print(json.dumps({"ms": ms, "boxes": boxes, "peak_rss_mb": vm("VmHWM"), "torch": torch.__version__}))
"""


def run_ultralytics(python: str, frames_path: Path, weights: Path, imgsz: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "YOLO_OFFLINE": "1"}
    out = subprocess.run([python, "-c", ULTRA_CHILD, str(frames_path), str(weights), str(imgsz), str(threads)],
                         capture_output=True, text=True, env=env, timeout=1800, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"ultralytics child failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {"boxes": data["boxes"], "predict": _stats(data["ms"]), "peak_rss_mb": data["peak_rss_mb"], "torch": data["torch"]}


def agreement(ours: list[list[list[float]]], theirs: list[list[list[float]]], min_iou: float = 0.9) -> dict:
    """How many of ultralytics' boxes our runtime also finds (same class, IoU ≥ min_iou), and the counts."""
    import numpy as np

    matched = total = 0
    for a, b in zip(ours, theirs, strict=True):
        for cb, *bb, _ in b:
            total += 1
            best = 0.0
            for ca, *ab, _ in a:
                if ca != cb:
                    continue
                ix = max(0.0, min(ab[2], bb[2]) - max(ab[0], bb[0]))
                iy = max(0.0, min(ab[3], bb[3]) - max(ab[1], bb[1]))
                inter = ix * iy
                union = (ab[2] - ab[0]) * (ab[3] - ab[1]) + (bb[2] - bb[0]) * (bb[3] - bb[1]) - inter
                best = max(best, inter / union if union > 0 else 0.0)
            matched += best >= min_iou
    return {"ultralytics_boxes": total, "runtime_boxes": int(np.sum([len(a) for a in ours])), "matched": matched}


def run_runtime(frames_path: Path, model: Path, threads: int, backend: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-runtime", str(frames_path),
                          "--model", str(model), "--threads", str(threads), "--backend", backend],
                         capture_output=True, text=True, env=env, timeout=1800, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"runtime child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "opencv"])
    ap.add_argument("--model", type=Path, default=ROOT / "vision" / "models" / "zhijian-yolov8n.onnx")
    ap.add_argument("--weights", type=Path, default=None, help="the .pt (default: next to the ONNX)")
    ap.add_argument("--train-python", default=str(ROOT / ".venv-train" / "bin" / "python"))
    ap.add_argument("--child-runtime", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--runtime-only", action="store_true",
                    help="time the runtime path alone (no training venv here): no ratio is printed")
    args = ap.parse_args()
    if args.child_runtime:
        print(json.dumps(child_runtime(args.child_runtime, str(args.model), args.threads, args.backend)))
        return 0
    weights = args.weights or args.model.with_suffix(".pt")
    imgsz = int(json.loads(args.model.with_suffix(".json").read_text()).get("imgsz", 640))
    load_before = loadavg()
    print(f"vision latency: {args.frames} frames of 640 × 640 px (datagen seed 4242), model {args.model.name} "
          f"at imgsz {imgsz}, {args.threads} threads, {os.cpu_count()} CPUs (shared machine), {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = Path(tmp) / "frames.npy"
        make_frames(frames_path, args.frames)
        runtime, ultra = [], []
        if args.runtime_only:
            return _runtime_only([run_runtime(frames_path, args.model, args.threads, args.backend)
                                  for _ in range(args.rounds)])
        for r in range(args.rounds):
            runtime.append(run_runtime(frames_path, args.model, args.threads, args.backend))
            ultra.append(run_ultralytics(args.train_python, frames_path, weights, imgsz, args.threads))
            rt, ul = runtime[-1], ultra[-1]
            print(f"round {r + 1}: runtime path ({rt['backend']}) p50 {rt['path']['p50']:.1f} ms "
                  f"p95 {rt['path']['p95']:.1f} mean {rt['path']['mean']:.1f} | detect only p50 "
                  f"{rt['detect']['p50']:.1f} | ultralytics predict p50 {ul['predict']['p50']:.1f} ms "
                  f"p95 {ul['predict']['p95']:.1f} mean {ul['predict']['mean']:.1f}")
    best_rt = min(runtime, key=lambda x: x["path"]["p50"])
    best_ul = min(ultra, key=lambda x: x["predict"]["p50"])
    print()
    print(f"{'':34}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'peak RSS MB':>13}")
    print(f"{'runtime path (analyse, ' + best_rt['backend'] + ')':34}{best_rt['path']['p50']:9.1f}"
          f"{best_rt['path']['p95']:9.1f}{best_rt['path']['mean']:9.1f}{best_rt['peak_rss_mb']:13.0f}")
    print(f"{'runtime detect() only':34}{best_rt['detect']['p50']:9.1f}{best_rt['detect']['p95']:9.1f}"
          f"{best_rt['detect']['mean']:9.1f}")
    print(f"{'ultralytics predict (torch ' + best_ul['torch'] + ')':34}{best_ul['predict']['p50']:9.1f}"
          f"{best_ul['predict']['p95']:9.1f}{best_ul['predict']['mean']:9.1f}{best_ul['peak_rss_mb']:13.0f}")
    print(f"(best round of {args.rounds} by p50 for each side)")
    agree = agreement(best_rt["boxes"], best_ul["boxes"])
    print(f"same boxes: {agree['matched']} of ultralytics' {agree['ultralytics_boxes']} boxes found by the runtime "
          f"(same class, IoU >= 0.9); runtime found {agree['runtime_boxes']} in all")
    no_torch = not any(r["torch_imported"] or r["ultralytics_imported"] for r in runtime)
    ratio = best_ul["predict"]["p50"] / best_rt["path"]["p50"]
    print(f"speed-up: ultralytics predict p50 / runtime path p50 = {ratio:.2f}x (issue 21 target >= 1.5x)")
    paired = sorted(u["predict"]["p50"] / r["path"]["p50"] for r, u in zip(runtime, ultra, strict=True))
    print("  per round (each side's p50 in the same round, back to back): "
          + ", ".join(f"{x:.2f}x" for x in paired) + f"; median {paired[len(paired) // 2]:.2f}x")
    found = agree["matched"] / agree["ultralytics_boxes"] if agree["ultralytics_boxes"] else float("nan")
    print(f"load average before {load_before}, after {loadavg()} ({os.cpu_count()} CPUs, shared)")
    peak_rss = max(r["peak_rss_mb"] for r in runtime)
    checks = {
        "runtime path >= 1.5x faster than ultralytics (p50)": ratio >= 1.5,
        "runtime finds >= 97 % of ultralytics' boxes": found >= 0.97,
        "runtime p95 < 150 ms": best_rt["path"]["p95"] < 150,
        "runtime peak RSS < 600 MB": peak_rss < 600,
        "runtime imports no torch/ultralytics": no_torch,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
    # frames per second (1000 / p50): a relation is met when value / anchor >= goal, so 1.5 = 1.5x faster
    emit("vision_latency", [
        relation(f"runtime path ({best_rt['backend']}), frames/s at p50", 1000.0 / best_rt["path"]["p50"], "frames/s",
                 f"ultralytics predict (torch {best_ul['torch']})", 1000.0 / best_ul["predict"]["p50"], 1.5),
        relation("ultralytics' boxes found by the runtime (same class, IoU >= 0.9)", agree["matched"], "boxes",
                 "ultralytics' boxes", agree["ultralytics_boxes"], 0.97),
        bound("runtime path p95", best_rt["path"]["p95"], "ms", 150, "< 150 ms"),
        bound("runtime peak RSS", peak_rss, "MB", 600, "< 600 MB"),
        bound("torch or ultralytics imported by the runtime", 0 if no_torch else 1, "", 1, "0"),
    ])
    return 0


def _runtime_only(runtime: list[dict]) -> int:
    best = min(runtime, key=lambda x: x["path"]["p50"])
    print(f"runtime path (analyse, {best['backend']}): p50 {best['path']['p50']:.1f} ms, p95 {best['path']['p95']:.1f},"
          f" mean {best['path']['mean']:.1f}; detect() only p50 {best['detect']['p50']:.1f} ms;"
          f" peak RSS {max(r['peak_rss_mb'] for r in runtime):.0f} MB (best of {len(runtime)} rounds by p50)")
    no_torch = not any(r["torch_imported"] or r["ultralytics_imported"] for r in runtime)
    print(f"  {'ok  ' if no_torch else 'MISS'} runtime imports no torch/ultralytics")
    print(f"load average {loadavg()} ({os.cpu_count()} CPUs, shared)")
    print("  (no ultralytics side: no speed-up ratio without --train-python)")
    emit("vision_latency", [
        bound("runtime path p95", best["path"]["p95"], "ms", 150, "< 150 ms"),
        bound("runtime peak RSS", max(r["peak_rss_mb"] for r in runtime), "MB", 600, "< 600 MB"),
        bound("torch or ultralytics imported by the runtime", 0 if no_torch else 1, "", 1, "0"),
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
