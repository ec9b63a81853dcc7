"""The operating-point figures (issue 21): the committed JSON is what the script computes, the shipped
thresholds are the ones chosen from it against the stated target, and the README quotes it.

The script regenerates both held-out draws; here the first `slice` scenes of each are regenerated (image i
depends only on its seed and i) and their figures must equal the JSON's `slice` part exactly.
ZHIJIAN_TEST_FULL_OPERATING_POINT=1 reruns the whole report (about 40 s of CPU) and compares it all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.settings import Settings
from vision import operating_point as op

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "vision" / "models" / "zhijian-yolov8n.onnx"
REPORT = ROOT / "vision" / "models" / "zhijian-yolov8n.operating-point.json"


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads(REPORT.read_text())


def _near(fresh, pinned, path="") -> list[str]:
    """Where a fresh report differs from the pinned one beyond float rounding across CPUs: counts may move
    by one (a confidence on a threshold), ratios by what one count moves; the same keys everywhere."""
    if isinstance(pinned, dict):
        if set(fresh) != set(pinned):
            return [f"{path}: keys {sorted(set(fresh) ^ set(pinned))}"]
        return [d for k in pinned for d in _near(fresh[k], pinned[k], f"{path}.{k}")]
    if isinstance(pinned, list):
        if not isinstance(fresh, list) or len(fresh) != len(pinned):
            return [f"{path}: length"]
        return [d for i, (a, b) in enumerate(zip(fresh, pinned, strict=True)) for d in _near(a, b, f"{path}[{i}]")]
    if isinstance(pinned, bool) or pinned is None or isinstance(pinned, str):
        return [] if fresh == pinned else [f"{path}: {fresh!r} != {pinned!r}"]
    if isinstance(pinned, int):
        return [] if abs(fresh - pinned) <= 1 else [f"{path}: {fresh} != {pinned}"]
    return [] if fresh is not None and abs(fresh - pinned) <= 0.1 else [f"{path}: {fresh} != {pinned}"]


def test_slice_figures_match_a_fresh_run(report, tmp_path):
    fresh = op.slice_figures(MODEL, tmp_path, report["slice"]["count"], report["chosen"])
    # the runtime path is deterministic: on the machine that wrote the JSON the two are equal
    assert _near(fresh, report["slice"]) == []
    # the slice is not empty of what it measures: alerts of both kinds, bays judged and not judged
    heldout = fresh["sets"]["heldout"]["at_chosen"]
    assert heldout["no_helmet"]["alerts"] > 0 and heldout["spacing"]["failed"] > 0
    assert heldout["spacing"]["not_judged"] > 0


@pytest.mark.skipif(not os.environ.get("ZHIJIAN_TEST_FULL_OPERATING_POINT"), reason="full rerun on request")
def test_full_report_matches_a_fresh_run(report, tmp_path):
    fresh = json.loads(json.dumps(op.report(MODEL, tmp_path, None, report["slice"]["count"])))
    assert _near(fresh, report) == []


def test_thresholds_are_the_ones_the_target_chooses(report):
    chosen = report["chosen"]
    sweep = chosen["pooled_sweep"]
    assert op.choose_helmet(sweep["no_helmet"]) == (chosen["helmet_conf"], chosen["met"]["no_helmet"])
    assert op.choose_spacing(sweep["spacing"]) == (
        chosen["upright_conf"], chosen["ledger_guard"], chosen["met"]["spacing"])
    # the target holds at the chosen point on both draws pooled, and a lower helmet threshold misses it
    assert chosen["met"] == {"no_helmet": True, "spacing": True}
    assert chosen["pooled"]["no_helmet"]["alert_precision"] >= op.TARGET_PRECISION
    assert chosen["pooled"]["spacing"]["fail_precision"] >= op.TARGET_PRECISION
    lower = [r for r in sweep["no_helmet"] if r["helmet_conf"] < chosen["helmet_conf"]]
    assert all(r["alert_precision"] < op.TARGET_PRECISION for r in lower)
    # the ledger guard and the upright threshold earn their place: fewer wrong fails than before
    for name in ("heldout", "shift"):
        now, before = (report["sets"][name][k]["spacing"] for k in ("at_chosen", "at_previous"))
        assert now["wrongly_failed"] < before["wrongly_failed"]


def test_shipped_defaults_are_the_chosen_thresholds(report):
    s = Settings()
    assert s.VISION_HELMET_CONF == report["chosen"]["helmet_conf"]
    assert s.VISION_UPRIGHT_CONF == report["chosen"]["upright_conf"]
    assert s.VISION_LEDGER_GUARD is report["chosen"]["ledger_guard"]
    assert s.VISION_CONF == report["worker"]["detection_conf"]
    assert s.VISION_ALERT_WINDOW_S == report["worker"]["alert_window_s"]


def test_readme_quotes_the_json(report):
    readme = {line.strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()}
    missing = [line for line in op.readme_table(report).splitlines() if line not in readme]
    assert missing == []


def test_readme_network_alone_figures_come_from_their_json():
    network = json.loads((ROOT / "vision" / "models" / "zhijian-yolov8n.heldout-network.json").read_text())
    assert network["helmet_classifier"] is None and network["dataset"]["seed"] == 9001
    overall = network["overall"]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"the network alone has {overall['map50']:.3f} / {overall['map50_95']:.3f}" in readme


def test_alert_rate_model_bounds():
    # p = 0: no false alert; p = 1: one per window either way; independent frames never below a still scene
    assert op.alert_rate(0.0) == {"still_scene": 0.0, "independent_frames": 0.0}
    assert op.alert_rate(1.0)["independent_frames"] == 3600 / op.ALERT_WINDOW_S
    for p in (0.001, 0.02, 0.3):
        r = op.alert_rate(p)
        assert r["still_scene"] <= r["independent_frames"] <= 3600 / op.ALERT_WINDOW_S
