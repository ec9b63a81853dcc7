"""The training scripts are checked without torch: syntax, --help, and the torch-free evaluation path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vision.test_detector import _model
from vision import evaluate, train

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_vision.sh"


def test_train_script_parses_and_prints_help():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    out = subprocess.run(["bash", str(SCRIPT), "--help"], check=True, capture_output=True, text=True).stdout
    assert "TRAIN_COUNT" in out and ".venv-train" in out
    bad = subprocess.run(["bash", str(SCRIPT), "--bogus"], check=False, capture_output=True, text=True)
    assert bad.returncode == 2


@pytest.mark.parametrize("module", ["vision.train", "vision.evaluate"])
def test_help_needs_no_torch(module):
    code = (
        f"import sys, runpy; sys.argv = ['{module}', '--help']\n"
        f"try:\n    runpy.run_module('{module}', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "assert 'ultralytics' not in sys.modules and 'torch' not in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_parsers_have_reproducible_defaults():
    args = train.build_parser().parse_args(["--data", "d.yaml"])
    assert (args.model, args.seed, args.imgsz, args.device) == ("yolov8n.yaml", 0, 640, "cpu")
    args = evaluate.build_parser().parse_args(["--weights", "w.onnx", "--data", "d"])
    assert (args.seed, args.split, args.easy) == (evaluate.HELDOUT_SEED, "test", False)


def test_a_fine_tune_needs_the_metrics_of_the_model_it_starts_from(tmp_path, capsys):
    weights = tmp_path / "ours.pt"
    weights.write_bytes(b"not read: the chain check comes first")
    rc = train.main(["--data", str(tmp_path / "data.yaml"), "--model", str(weights)])
    assert rc == 2
    assert "ours.metrics.json" in capsys.readouterr().err  # before ultralytics is imported (not in .venv)


def test_runtime_evaluation_end_to_end(tmp_path, capsys):
    weights = _model(tmp_path)  # fixed-output stand-in for trained weights
    report_path = tmp_path / "heldout.json"
    rc = evaluate.main(
        [
            "--weights",
            weights,
            "--data",
            str(tmp_path / "heldout"),
            "--engine",
            "runtime",
            "--generate",
            "--seed",
            "77",
            "--count",
            "3",
            "--json",
            str(report_path),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "mAP50-95" in printed and "upright" in printed
    report = json.loads(report_path.read_text())
    assert report["dataset"]["hard"] is True and report["dataset"]["seed"] == 77
    assert {r["class"] for r in report["per_class"]} <= set(evaluate.CLASSES)
    assert 0.0 <= report["overall"]["map50"] <= 1.0


def test_evaluate_refuses_a_missing_split(tmp_path):
    assert evaluate.main(["--weights", "w.onnx", "--data", str(tmp_path), "--engine", "runtime"]) == 2
