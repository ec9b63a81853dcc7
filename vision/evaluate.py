"""Evaluate a trained model on a held-out set: mAP50 and mAP50-95 per class.

The held-out set is made with other seeds and --hard, and can be (re)generated here from its seed:
    python -m vision.evaluate --weights vision/models/zhijian-yolov8n.onnx --engine runtime \\
        --data .run/vision/heldout --generate --seed 9001 --count 300
Engines:
  ultralytics  ultralytics' own val (needs .venv-train; .pt or .onnx weights)
  runtime      our torch-free path (vision.detector on the .onnx, with the helmet classifier its sidecar
               names unless --no-helmet) scored by vision.metrics
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from vision.detection import CLASSES

HELDOUT_SEED = 9001
HELDOUT_COUNT = 300


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vision.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--weights", type=Path, required=True, help=".pt (ultralytics) or .onnx")
    p.add_argument("--data", type=Path, required=True, help="held-out dataset folder (with data.yaml)")
    p.add_argument("--engine", choices=("ultralytics", "runtime"), default="ultralytics")
    p.add_argument("--split", default="test")
    p.add_argument("--generate", action="store_true", help="(re)generate the held-out set from --seed first")
    p.add_argument("--seed", type=int, default=HELDOUT_SEED)
    p.add_argument("--count", type=int, default=HELDOUT_COUNT)
    p.add_argument("--easy", action="store_true", help="generate without --hard (default: hard)")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help="write the metrics here")
    p.add_argument("--no-helmet", action="store_true",
                   help="runtime: the network's own person classes, without the helmet classifier")
    return p


def format_table(rows: list[dict], overall: dict) -> str:
    """Per-class table as ultralytics prints it: class, instances, P, R, mAP50, mAP50-95."""
    lines = [f"{'class':<18}{'instances':>10}{'P':>8}{'R':>8}{'mAP50':>8}{'mAP50-95':>10}"]
    for r in [overall, *rows]:
        lines.append(
            f"{r['class']:<18}{r['instances']:>10}{r['precision']:>8.3f}{r['recall']:>8.3f}"
            f"{r['map50']:>8.3f}{r['map50_95']:>10.3f}"
        )
    return "\n".join(lines)


def _rows_from_runtime(weights: Path, images: Path, labels: Path, helmet: bool = True) -> tuple[list[dict], str | None]:
    """Per-class rows, and the helmet classifier used (None: the network's own person classes)."""
    import cv2

    from vision.detector import Detector
    from vision.metrics import DetectionEvaluator

    det = Detector(weights, conf_threshold=0.001, iou_threshold=0.7, helmet=helmet)  # ultralytics' val settings
    stage = det.helmet.spec.model if det.helmet else None
    ev = DetectionEvaluator()
    for img_path in sorted(images.glob("*.jpg")):
        image = cv2.imread(str(img_path))
        h, w = image.shape[:2]
        text = (labels / f"{img_path.stem}.txt").read_text().split()
        gt = np.array(text, dtype=np.float64).reshape(-1, 5)  # an empty file: a scene with nothing to find
        gt_boxes = np.stack(
            [
                (gt[:, 1] - gt[:, 3] / 2) * w,
                (gt[:, 2] - gt[:, 4] / 2) * h,
                (gt[:, 1] + gt[:, 3] / 2) * w,
                (gt[:, 2] + gt[:, 4] / 2) * h,
            ],
            axis=1,
        )
        dets = det.detect(image)
        ev.add(
            [d.class_id for d in dets],
            [d.confidence for d in dets],
            np.array([[d.x1, d.y1, d.x2, d.y2] for d in dets]).reshape(-1, 4),
            gt[:, 0],
            gt_boxes,
        )
    return [
        {
            "class": CLASSES[m.class_id],
            "instances": m.instances,
            "precision": m.precision,
            "recall": m.recall,
            "map50": m.map50,
            "map50_95": m.map50_95,
        }
        for m in ev.result()
    ], stage


def _rows_from_ultralytics(args) -> list[dict]:
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install behind our back
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(".run/vision/ultralytics").resolve()))
    from ultralytics import YOLO

    model = YOLO(str(args.weights), task="detect")
    m = model.val(
        data=str(args.data / "data.yaml"),
        split=args.split,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        plots=False,
        verbose=False,
    )
    box = m.box
    names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
    inst = _instances(args.data / "labels" / args.split)
    return [
        {
            "class": names[int(c)],
            "instances": inst.get(int(c), 0),
            "precision": float(box.p[k]),
            "recall": float(box.r[k]),
            "map50": float(box.ap50[k]),
            "map50_95": float(box.ap[k]),
        }
        for k, c in enumerate(box.ap_class_index)
    ]


def _instances(labels: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for f in labels.glob("*.txt"):
        for line in f.read_text().split("\n"):
            if line.strip():
                c = int(line.split()[0])
                counts[c] = counts.get(c, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.generate:
        from vision.datagen import write_dataset

        write_dataset(args.data, args.count, args.seed, hard=not args.easy, split=args.split)
    if not (args.data / "images" / args.split).is_dir():
        print(f"no split {args.split!r} under {args.data}: generate it with --generate", file=sys.stderr)
        return 2
    stage = None
    if args.engine == "runtime":
        rows, stage = _rows_from_runtime(
            args.weights, args.data / "images" / args.split, args.data / "labels" / args.split, not args.no_helmet
        )
    else:
        rows = _rows_from_ultralytics(args)
    overall = {
        "class": "all",
        "instances": sum(r["instances"] for r in rows),
        **{
            k: float(np.mean([r[k] for r in rows])) if rows else 0.0
            for k in ("precision", "recall", "map50", "map50_95")
        },
    }
    print(format_table(rows, overall))
    if args.json:
        summary = args.data / "summary.json"
        report = {
            "weights": str(args.weights),
            "engine": args.engine,
            "helmet_classifier": stage,
            "split": args.split,
            "dataset": json.loads(summary.read_text()) if summary.exists() else str(args.data),
            "overall": overall,
            "per_class": rows,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
