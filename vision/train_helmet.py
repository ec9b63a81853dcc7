"""Train the helmet classifier (vision.helmet) on head crops of generated scenes; export it to ONNX.

    .venv-train/bin/python -m vision.train_helmet [--scenes 8000] [--epochs 15] [--crop-px 32]
                                                  [--out vision/models] [--detector zhijian-yolov8n]

Needs torch (the `train` extra, `.venv-train`), never the runtime. Crops come from the ground-truth
worker boxes of scenes drawn by vision.datagen — half the ordinary training draw, half `--hard` — with
seeds of their own (21, 22; validation 23), never the held-out seed 9001; each box is jittered in
position and size as a detector's box would be, and every crop is JPEG-compressed as its frame would
be. Prints progress per epoch; writes `{name}-helmet.onnx`, names it in the detector's sidecar JSON
(`"helmet"`, read by vision.detector) and records the run in `{name}-helmet.metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from vision.datagen.scene import SceneConfig, generate_scene
from vision.datagen.writer import scene_rng
from vision.detection import PERSON_HELMET, PERSON_NO_HELMET
from vision.helmet import CROP_LIFT, CROP_SIDE, HelmetSpec, head_crops, write_sidecar_entry

TRAIN_SEEDS = (21, 22)  # ordinary draw, --hard draw
VAL_SEED = 23  # --hard draw
JITTER = 0.06  # a box corner moves by up to this share of the box size (uniform)
COPIES = 2  # jittered crops per worker


def crops_of(args: tuple[int, bool, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Head crops (N × 3 × px × px) and labels (1 = bare head) of scenes [start, stop) of one seed."""
    seed, hard, start, stop, copies, px = args
    cv2.setNumThreads(1)
    xs, ys = [], []
    for index in range(start, stop):
        rng = scene_rng(seed, index, hard)
        scene = generate_scene(rng, SceneConfig(hard=hard))
        quality = int(rng.integers(35, 96)) if hard else int(rng.integers(70, 96))  # as the writer draws it
        image = cv2.imdecode(cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
        aug = np.random.default_rng([seed, index, 7])
        boxes, labels = [], []
        for cls, x1, y1, x2, y2 in scene.boxes:
            if cls not in (PERSON_HELMET, PERSON_NO_HELMET):
                continue
            w, h = x2 - x1, y2 - y1
            for _ in range(copies):
                d = aug.uniform(-JITTER, JITTER, 4) * np.array([w, h, w, h])
                boxes.append((x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3]))
                labels.append(1.0 if cls == PERSON_NO_HELMET else 0.0)
        if boxes:
            xs.append(head_crops(image, boxes, px, CROP_SIDE, CROP_LIFT))
            ys.append(np.array(labels, np.float32))
    if not xs:
        return np.zeros((0, 3, px, px), np.float32), np.zeros(0, np.float32)
    return np.concatenate(xs), np.concatenate(ys)


def make_set(parts: list[tuple[int, bool, int]], copies: int, jobs: int, px: int) -> tuple[np.ndarray, np.ndarray]:
    """(seed, hard, scenes) parts → crops and labels, generated on ``jobs`` processes."""
    tasks = []
    for seed, hard, count in parts:
        step = max(1, count // (jobs * 4))
        tasks += [(seed, hard, a, min(a + step, count), copies, px) for a in range(0, count, step)]
    with ProcessPoolExecutor(jobs) as pool:
        done = list(pool.map(crops_of, tasks))
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def build_model(px: int):  # noqa: ANN201 - torch is imported lazily (training only)
    from torch import nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(3, 16), nn.MaxPool2d(2),  # px / 2
        *block(16, 32), nn.MaxPool2d(2),  # px / 4
        *block(32, 64), nn.MaxPool2d(2),  # px / 8
        *block(64, 64),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(64 * (px // 8) ** 2, 64), nn.ReLU(inplace=True), nn.Linear(64, 1),
    )


def evaluate(model, x: np.ndarray, y: np.ndarray) -> dict:  # noqa: ANN001
    import torch

    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 1024])) for i in range(0, len(x), 1024)]).squeeze(1)
    p = torch.sigmoid(logits).numpy()
    pred = p >= 0.5
    bare = y == 1
    return {
        "accuracy": round(float((pred == bare).mean()), 4),
        "bare_recall": round(float(pred[bare].mean()), 4),  # bare heads called bare
        "helmet_recall": round(float((~pred[~bare]).mean()), 4),  # helmets called helmets
        "bare_precision": round(float(bare[pred].mean()) if pred.any() else 0.0, 4),
        "crops": len(y),
        "bare_share": round(float(bare.mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vision.train_helmet", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=8000, help="scenes per training seed (two seeds)")
    ap.add_argument("--val-scenes", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=Path("vision/models"))
    ap.add_argument("--detector", default="zhijian-yolov8n", help="the detector whose sidecar names the classifier")
    ap.add_argument("--seed", type=int, default=0, help="torch's seed (weights init, shuffling)")
    ap.add_argument("--crop-px", type=int, default=32, help="the classifier's input side (a multiple of 8)")
    args = ap.parse_args(argv)

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    t0 = time.perf_counter()
    px = args.crop_px
    x, y = make_set([(TRAIN_SEEDS[0], False, args.scenes), (TRAIN_SEEDS[1], True, args.scenes)], COPIES, args.jobs, px)
    vx, vy = make_set([(VAL_SEED, True, args.val_scenes)], 1, args.jobs, px)
    print(f"crops: train {len(y)} ({y.mean():.0%} bare), val {len(vy)} ({vy.mean():.0%} bare), "
          f"{time.perf_counter() - t0:.0f} s", flush=True)

    model = build_model(px)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(y) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(yt))
        total = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            xb = xt[idx]
            flip = torch.rand(len(idx)) < 0.5  # a mirrored worker is a worker
            xb[flip] = xb[flip].flip(3)
            xb = xb * (0.75 + 0.5 * torch.rand(len(idx), 1, 1, 1))  # exposure
            loss = loss_fn(model(xb.clamp(0, 1)).squeeze(1), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val = evaluate(model, vx, vy)
        history.append({"epoch": epoch, "loss": round(total / len(yt), 4), **val})
        print(f"epoch {epoch}/{args.epochs} loss {total / len(yt):.4f} val acc {val['accuracy']:.4f} "
              f"bare recall {val['bare_recall']:.4f} helmet recall {val['helmet_recall']:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)

    name = f"{args.detector}-helmet.onnx"
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, px, px), str(args.out / name), input_names=["crops"],
                      output_names=["logit"], dynamic_axes={"crops": {0: "n"}, "logit": {0: "n"}}, opset_version=12,
                      dynamo=False)
    metrics = {"train_seeds": list(TRAIN_SEEDS), "val_seed": VAL_SEED, "scenes_per_seed": args.scenes,
               "val_scenes": args.val_scenes, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
               "torch_seed": args.seed, "copies": COPIES, "jitter": JITTER, "crop_px": px, "train_crops": len(y),
               "seconds": round(time.perf_counter() - t0), "torch": torch.__version__, "final": history[-1],
               "history": history}
    (args.out / f"{args.detector}-helmet.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_sidecar_entry(args.out / f"{args.detector}.json", HelmetSpec(name, px, CROP_SIDE, CROP_LIFT), {k: history[-1][k] for k in (
        "accuracy", "bare_recall", "helmet_recall", "bare_precision")})
    print(f"wrote {args.out / name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
