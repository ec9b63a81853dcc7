"""Train our YOLO nano on a generated dataset, export ONNX, write the metrics of the run.

Runs in `.venv-train` (torch + ultralytics, `pip install -e '.[train]'`; see scripts/train_vision.sh),
never in the runtime venv. Offline, nothing downloaded: `--model yolov8n.yaml` (the default) trains
from ultralytics' bundled architecture with random weights; `--model our.pt` fine-tunes one of our
own trained models from its weights, and that model's metrics json (`--parent-metrics`, by default
the .metrics.json beside the .pt) is kept under "parent", so the chain back to the from-scratch run
stays on record. Outputs, under --out (default vision/models/):
  <name>.pt, <name>.onnx, <name>.json (class names + imgsz, read by vision.detector),
  <name>.metrics.json (per-class mAP50 / mAP50-95 on the val split, the arguments, versions, seeds).
With `--real EXPORT ...` (issue 21: labelled real frames exported per camera by the cameras API) the run
trains on generated + real frames (vision.real_data: a stable 20 % of the real frames held out), then
scores the candidate and the shipped model at the shipped thresholds on the real held-out slice; the
figures and the gate's verdict go into the metrics json, and a candidate that fails the gate is written
to --reject-out instead of --out (return code 3): a model does not ship on generated figures alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from vision.detection import CLASSES

DEFAULT_NAME = "zhijian-yolov8n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vision.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, help="data.yaml written by python -m vision.datagen")
    p.add_argument("--model", default="yolov8n.yaml",
                   help="architecture yaml (random init), or a .pt of ours to fine-tune")
    p.add_argument("--parent-metrics", type=Path, default=None,
                   help="metrics json of the .pt being fine-tuned (default: <model>.metrics.json beside it)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="dataloader workers (CPU is shared: keep low)")
    p.add_argument("--patience", type=int, default=20, help="early stop after this many epochs w/o gain")
    p.add_argument("--seed", type=int, default=0, help="training seed (deterministic=True)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", type=Path, default=Path(".run/vision/runs"), help="ultralytics run folder")
    p.add_argument("--out", type=Path, default=Path("vision/models"), help="where the shipped files go")
    p.add_argument("--name", default=DEFAULT_NAME, help="base name of the shipped files")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset of the export")
    p.add_argument("--cache", choices=("ram", "disk", "none"), default="ram",
                   help="cache decoded images (ram saves JPEG decoding every epoch on a small CPU)")
    p.add_argument("--close-mosaic", type=int, default=2, help="last epochs trained without mosaic")
    p.add_argument("--optimizer", default="auto",
                   help="ultralytics optimizer; 'auto' picks AdamW at its own lr for short runs, ignoring --lr0")
    p.add_argument("--lr0", type=float, default=0.01, help="initial learning rate (not with --optimizer auto)")
    p.add_argument("--warmup-epochs", type=float, default=3.0,
                   help="0 for a fine-tune: the warmup's bias lr (0.1) would shake trained weights")
    p.add_argument("--real", type=Path, nargs="*", default=[],
                   help="labelled real frames: zips / folders exported by GET /api/v1/cameras/{id}/labels/export")
    p.add_argument("--real-dir", type=Path, default=Path(".run/vision/real"), help="where the real split goes")
    p.add_argument("--shipped", type=Path, default=Path("vision/models/zhijian-yolov8n.onnx"),
                   help="the model in service, scored on the same real held-out slice")
    p.add_argument("--reject-out", type=Path, default=Path(".run/vision/rejected"),
                   help="where a candidate that fails the real-frame gate is written")
    return p


def prepare_real(args) -> tuple[Path, dict | None]:
    """With --real: split the real frames and write the mixed data.yaml; (data.yaml to train on, counts)."""
    if not args.real:
        return args.data.resolve(), None
    from vision.real_data import mixed_yaml, split_real

    if args.real_dir.exists():
        import shutil as _shutil

        _shutil.rmtree(args.real_dir)
    counts = split_real(args.real, args.real_dir)
    return mixed_yaml(args.data.resolve().parent, args.real_dir / "data.yaml", args.real_dir), counts


def real_gate(args, candidate_onnx: Path) -> dict:
    """Candidate and shipped model on the real held-out slice at the shipped thresholds, and the verdict."""
    from backend.settings import Settings
    from vision.real_data import real_figures, ship_gate

    s = Settings()
    candidate = real_figures(candidate_onnx, args.real_dir, s.VISION_HELMET_CONF, s.VISION_UPRIGHT_CONF)
    shipped = (real_figures(args.shipped, args.real_dir, s.VISION_HELMET_CONF, s.VISION_UPRIGHT_CONF)
               if args.shipped.is_file() else None)
    return {"candidate": candidate, "shipped": shipped, "gate": ship_gate(candidate, shipped)}


def _versions() -> dict:
    import torch
    import ultralytics

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "machine": platform.machine(),
    }


def per_class(metrics, names: dict | list) -> dict:
    """Per-class precision, recall, mAP50 and mAP50-95 from an ultralytics DetMetrics."""
    box = metrics.box
    names = list(names.values()) if isinstance(names, dict) else list(names)
    out = {}
    for k, c in enumerate(box.ap_class_index):
        out[names[int(c)]] = {
            "precision": float(box.p[k]),
            "recall": float(box.r[k]),
            "map50": float(box.ap50[k]),
            "map50_95": float(box.ap[k]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install behind our back
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(".run/vision/ultralytics").resolve()))
    fine_tune = str(args.model).endswith(".pt")
    parent = None
    if fine_tune:
        parent_path = args.parent_metrics or Path(str(args.model)[: -len(".pt")] + ".metrics.json")
        if not parent_path.exists():
            print(f"no metrics of the model being fine-tuned: {parent_path} (--parent-metrics)", file=sys.stderr)
            return 2
        parent = json.loads(parent_path.read_text())
    from ultralytics import YOLO  # heavy: only after the arguments are good

    summary = args.data.resolve().parent / "summary.json"
    data, real_counts = prepare_real(args)
    t0 = time.time()
    model = YOLO(args.model)
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=args.workers,
        patience=args.patience,
        seed=args.seed,
        deterministic=True,
        device=args.device,
        project=str(args.runs.resolve()),
        name=args.name,
        exist_ok=True,
        # from a yaml: random init (no download); from a shipped .pt: fine-tune its own weights
        pretrained=fine_tune,
        optimizer=args.optimizer,
        lr0=args.lr0,
        warmup_epochs=args.warmup_epochs,
        amp=False,
        cache=False if args.cache == "none" else args.cache,
        close_mosaic=args.close_mosaic,
        plots=True,
        verbose=True,
    )
    train_s = time.time() - t0
    best_pt = Path(model.trainer.best)
    best = YOLO(str(best_pt))
    metrics = best.val(
        data=str(data),
        split="val",
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        plots=False,
        verbose=True,
    )
    onnx_path = Path(
        best.export(
            format="onnx",
            imgsz=args.imgsz,
            opset=args.opset,
            simplify=True,
            dynamic=False,
            device=args.device,
        )
    )

    real = None
    if real_counts is not None:
        # the exported ONNX carries no helmet stage: both sides are scored on the network's own classes
        # unless the candidate's sidecar is completed first (scripts/train_vision.sh step 4)
        shutil.copyfile(onnx_path.with_suffix(".onnx"), onnx_path.with_name("candidate.onnx"))
        onnx_path.with_name("candidate.json").write_text(json.dumps({"names": list(CLASSES), "imgsz": args.imgsz}))
        real = {"frames": real_counts, **real_gate(args, onnx_path.with_name("candidate.onnx"))}
        print(json.dumps(real["gate"], indent=2))
        if not real["gate"]["ship"]:
            args.out = args.reject_out
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / args.name
    shutil.copyfile(best_pt, stem.with_suffix(".pt"))
    shutil.copyfile(onnx_path, stem.with_suffix(".onnx"))
    names = list(best.names.values()) if isinstance(best.names, dict) else list(best.names)
    if names != list(CLASSES):
        print(f"warning: model classes {names} differ from vision.detection.CLASSES", file=sys.stderr)
    stem.with_suffix(".json").write_text(json.dumps({"names": names, "imgsz": args.imgsz}, indent=2) + "\n")
    report = {
        "model": args.model,
        "name": args.name,
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "seed": args.seed,
        "cache": args.cache,
        "close_mosaic": args.close_mosaic,
        "optimizer": args.optimizer,
        "lr0": args.lr0,
        "warmup_epochs": args.warmup_epochs,
        "train_seconds": round(train_s, 1),
        "dataset": json.loads(summary.read_text()) if summary.exists() else str(data),
        "val": {
            "map50": float(metrics.box.map50),
            "map50_95": float(metrics.box.map),
            "per_class": per_class(metrics, best.names),
        },
        "files": {k: Path(stem.with_suffix(k)).name for k in (".pt", ".onnx", ".json")},
        "versions": _versions(),
    }
    if parent is not None:
        report["parent"] = parent  # the run whose weights this one started from (and so on back)
    if real is not None:
        report["real_heldout"] = real
    stem.with_name(stem.name + ".metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["val"], indent=2))
    return 3 if real is not None and not real["gate"]["ship"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
