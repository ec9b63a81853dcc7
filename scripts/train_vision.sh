#!/usr/bin/env bash
# Train the site-camera YOLO nano on generated scenes, export ONNX, evaluate on a held-out set.
#
# Creates .venv-train (torch + ultralytics; never installed into .venv), then:
#   1. generates the training set   (seed $TRAIN_SEED, $TRAIN_COUNT images, normal ranges)
#   2. generates the held-out set   (seed $HELDOUT_SEED, $HELDOUT_COUNT images, --hard)
#   3. trains yolov8n from its yaml (MODEL=yolov8n.yaml: no pretrained weights, offline) or fine-tunes
#      one of our .pt (MODEL=vision/models/x.pt, its x.metrics.json kept as the parent), exports ONNX
#   4. trains the helmet classifier on head crops (vision/train_helmet.py; seeds 21, 22, val 23), names it
#      in the model's sidecar JSON (HELMET=0 skips it: the runtime then uses the network's classes)
#   5. evaluates the .pt (ultralytics) and the .onnx (our torch-free runtime) on the held-out set
# Every step is seeded; the figures land in $OUT/*.metrics.json and *.heldout*.json.
#
# Usage: scripts/train_vision.sh [--help] [--setup-only] [--skip-setup]
# Settings (environment): TRAIN_COUNT=3000 TRAIN_SEED=1 HELDOUT_COUNT=300 HELDOUT_SEED=9001 EPOCHS=12
#   IMGSZ=320 FRAME=640 BATCH=16 WORKERS=2 TRAIN_THREADS=2 DATA_DIR=.run/vision/data NAME=zhijian-yolov8n
#   MODEL=yolov8n.yaml OPTIMIZER=auto LR0=0.01 WARMUP_EPOCHS=3 OUT=vision/models
#   HELMET=1 HELMET_SCENES=8000 HELMET_EPOCHS=15
#   (the fine-tune run in Dec 2026: MODEL=vision/models/zhijian-yolov8n.pt TRAIN_SEED=2 EPOCHS=10 OPTIMIZER=AdamW
#    LR0=0.0005 WARMUP_EPOCHS=0 OUT=.run/vision/candidate NAME=zhijian-yolov8n-ft1, then copied over)
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

SETUP=1
TRAIN=1
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --setup-only) TRAIN=0 ;;
    --skip-setup) SETUP=0 ;;
    *) echo "unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-train"
PY="$VENV/bin/python"
TRAIN_COUNT="${TRAIN_COUNT:-3000}"
TRAIN_SEED="${TRAIN_SEED:-1}"
HELDOUT_COUNT="${HELDOUT_COUNT:-300}"
HELDOUT_SEED="${HELDOUT_SEED:-9001}"
EPOCHS="${EPOCHS:-12}"
IMGSZ="${IMGSZ:-320}"   # network input
FRAME="${FRAME:-640}"   # generated camera frames (the held-out test regenerates 640-px frames)
BATCH="${BATCH:-16}"
WORKERS="${WORKERS:-2}"
DATA_DIR="${DATA_DIR:-.run/vision/data}"
NAME="${NAME:-zhijian-yolov8n}"
MODEL="${MODEL:-yolov8n.yaml}"
OPTIMIZER="${OPTIMIZER:-auto}"
LR0="${LR0:-0.01}"
WARMUP_EPOCHS="${WARMUP_EPOCHS:-3}"
OUT="${OUT:-vision/models}"
HELMET="${HELMET:-1}"
HELMET_SCENES="${HELMET_SCENES:-8000}"
HELMET_EPOCHS="${HELMET_EPOCHS:-15}"
# the CPU is shared: cap torch / OpenCV / BLAS threads
export OMP_NUM_THREADS="${TRAIN_THREADS:-2}" MKL_NUM_THREADS="${TRAIN_THREADS:-2}"
export YOLO_OFFLINE=true YOLO_AUTOINSTALL=false YOLO_CONFIG_DIR="$ROOT/.run/vision/ultralytics"

if [[ "$SETUP" == 1 ]]; then
  if [[ ! -x "$PY" ]]; then
    echo "== creating $VENV"
    python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  fi
  "$PY" -m pip install --quiet --upgrade pip
  # torch first, pinned to the wheels on this machine's disk, so ultralytics does not pull another
  case "$(uname -m)" in
    x86_64) "$PY" -m pip install torch==2.14.1 torchvision==0.29.1 ;;
    aarch64) "$PY" -m pip install torch==2.9.1 torchvision==0.24.1 ;;
    *) echo "no pinned torch for $(uname -m)" >&2; exit 1 ;;
  esac
  "$PY" -m pip install -e '.[train]'
  # ultralytics pulls opencv-python, which clashes with opencv-python-headless on the cv2 module
  if "$PY" -m pip show opencv-python >/dev/null 2>&1; then
    HEADLESS="$("$PY" -m pip show opencv-python-headless | sed -n 's/^Version: //p')"
    "$PY" -m pip uninstall -y opencv-python
    "$PY" -m pip install --force-reinstall --no-deps "opencv-python-headless==${HEADLESS}"
  fi
  "$PY" -c "import cv2, torch, ultralytics; print('cv2', cv2.__version__, 'torch', torch.__version__, 'ultralytics', ultralytics.__version__)"
fi
[[ "$TRAIN" == 1 ]] || exit 0

echo "== 1/5 training set: $TRAIN_COUNT images, seed $TRAIN_SEED"
"$PY" -m vision.datagen --out "$DATA_DIR/train-s$TRAIN_SEED" --count "$TRAIN_COUNT" --seed "$TRAIN_SEED" \
  --size "$FRAME"
echo "== 2/5 held-out set: $HELDOUT_COUNT images, seed $HELDOUT_SEED, --hard"
"$PY" -m vision.datagen --out "$DATA_DIR/heldout-s$HELDOUT_SEED" --count "$HELDOUT_COUNT" \
  --seed "$HELDOUT_SEED" --hard --split test --size "$FRAME"
echo "== 3/5 training yolov8n from $MODEL: $EPOCHS epochs at $IMGSZ px"
"$PY" -m vision.train --data "$DATA_DIR/train-s$TRAIN_SEED/data.yaml" --epochs "$EPOCHS" --imgsz "$IMGSZ" \
  --batch "$BATCH" --workers "$WORKERS" --name "$NAME" --model "$MODEL" --optimizer "$OPTIMIZER" \
  --lr0 "$LR0" --warmup-epochs "$WARMUP_EPOCHS" --out "$OUT"
if [[ "$HELMET" == 1 ]]; then
  echo "== 4/5 helmet classifier: $HELMET_SCENES scenes per seed, $HELMET_EPOCHS epochs"
  "$PY" -m vision.train_helmet --scenes "$HELMET_SCENES" --epochs "$HELMET_EPOCHS" --detector "$NAME" --out "$OUT"
else
  echo "== 4/5 helmet classifier: skipped (HELMET=0)"
fi
echo "== 5/5 held-out evaluation"
"$PY" -m vision.evaluate --weights "$OUT/$NAME.pt" --data "$DATA_DIR/heldout-s$HELDOUT_SEED" \
  --engine ultralytics --imgsz "$IMGSZ" --json "$OUT/$NAME.heldout.json"
"$PY" -m vision.evaluate --weights "$OUT/$NAME.onnx" --data "$DATA_DIR/heldout-s$HELDOUT_SEED" \
  --engine runtime --json "$OUT/$NAME.heldout-runtime.json"
