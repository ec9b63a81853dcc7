"""The real-frame path of training (issue 21), torch-free: split, mixed data.yaml, figures, ship gate."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from vision import real_data
from vision.datagen import write_dataset
from vision.detection import CLASSES, PERSON_NO_HELMET, Detection


def _export(tmp: Path, seed: int, count: int, camera: str) -> Path:
    """A stand-in for one camera's export: generated hard scenes in the export's layout (a zip)."""
    write_dataset(tmp / f"gen{seed}", count, seed, hard=True, split="real")
    path = tmp / f"{camera}.zip"
    with zipfile.ZipFile(path, "w") as z:
        for sub in ("images", "labels"):
            for f in sorted((tmp / f"gen{seed}" / sub / "real").iterdir()):
                z.write(f, f"{sub}/real/{camera}_{f.name}")
        z.writestr("data.yaml", "names: {}\n")
    return path


def test_split_is_stable_and_keeps_labels_with_images(tmp_path):
    a, b = _export(tmp_path, 31, 30, "camA"), _export(tmp_path, 32, 30, "camB")
    counts = real_data.split_real([a, b], tmp_path / "real")
    assert sum(counts.values()) == 60 and 3 <= counts[real_data.HELDOUT_SPLIT] <= 24
    held = sorted(p.name for p in (tmp_path / "real" / "images" / real_data.HELDOUT_SPLIT).iterdir())
    for split in (real_data.TRAIN_SPLIT, real_data.HELDOUT_SPLIT):
        images = {p.stem for p in (tmp_path / "real" / "images" / split).iterdir()}
        labels = {p.stem for p in (tmp_path / "real" / "labels" / split).iterdir()}
        assert images == labels
    # a later export with more frames moves none of the earlier ones between the splits
    more = _export(tmp_path, 31, 45, "camA")
    real_data.split_real([more, b], tmp_path / "again")
    held_again = {p.name for p in (tmp_path / "again" / "images" / real_data.HELDOUT_SPLIT).iterdir()}
    assert set(held) <= held_again


def test_mixed_yaml_trains_on_both_and_validates_on_generated(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    text = real_data.mixed_yaml(gen, tmp_path / "mixed.yaml", tmp_path / "real").read_text()
    assert "  - images/train" in text and f"  - {(tmp_path / 'real' / 'images' / 'real_train').resolve()}" in text
    assert "val: images/val" in text and "real_heldout" not in text.split("#", 1)[1].split("\n", 1)[1]
    assert all(f"  {i}: {n}" in text for i, n in enumerate(CLASSES))


class LabelDetector:
    """Reads the answer from the label files (a model that is right), optionally missing every other bare head."""

    def __init__(self, labels: Path, miss_every_other_bare: bool = False) -> None:
        self.labels, self.miss = labels, miss_every_other_bare
        self.images: list[str] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        stem = self.images.pop(0)
        h, w = image.shape[:2]
        cls, boxes = real_data._truth(self.labels / f"{stem}.txt", w, h)
        out, bare = [], 0
        for c, b in zip(cls, boxes, strict=True):
            if c == PERSON_NO_HELMET:
                bare += 1
                if self.miss and bare % 2 == 0:
                    continue
            out.append(Detection(*b, int(c), 0.99))
        return out


@pytest.mark.parametrize("miss", [False, True])
def test_real_figures_against_the_labels(tmp_path, miss):
    real_data.split_real([_export(tmp_path, 33, 40, "camC")], tmp_path / "real", fraction=0.5)
    split = tmp_path / "real" / "images" / real_data.HELDOUT_SPLIT
    det = LabelDetector(tmp_path / "real" / "labels" / real_data.HELDOUT_SPLIT, miss)
    det.images = [p.stem for p in sorted(split.glob("*.jpg"))]
    fig = real_data.real_figures(Path("unused.onnx"), tmp_path / "real", 0.65, 0.5, detector=det)
    assert fig["frames"] == len(list(split.glob("*.jpg"))) > 5
    h = fig["no_helmet"]
    assert h["alert_precision"] == 1.0 and fig["uprights"]["precision"] == fig["uprights"]["recall"] == 1.0
    assert h["workers_bare"] > 0
    if miss:
        # the first bare head of each frame is still found: every alert still fires, some workers are missed
        assert 0.5 <= h["worker_recall"] < 1.0 and h["boxes_wrong"] == 0 and h["alert_recall"] == 1.0
    else:
        assert h["worker_recall"] == h["alert_recall"] == 1.0


def _fig(frames=40, precision=0.95, recall=0.5, upright_recall=0.8):
    return {"frames": frames, "no_helmet": {"alert_precision": precision, "alert_recall": recall},
            "uprights": {"recall": upright_recall}}


@pytest.mark.parametrize(
    ("candidate", "shipped", "ship", "why"),
    [
        (_fig(), _fig(precision=0.9, recall=0.4, upright_recall=0.7), True, ""),
        (_fig(), None, True, ""),
        (_fig(frames=19), None, False, "only 19"),
        (_fig(precision=0.89), None, False, "under the target"),
        (_fig(precision=None), None, False, "under the target"),
        (_fig(recall=0.39), _fig(recall=0.4), False, "no_helmet.alert_recall"),
        (_fig(upright_recall=0.69), _fig(upright_recall=0.7), False, "uprights.recall"),
        (_fig(precision=0.93), _fig(precision=0.95), False, "no_helmet.alert_precision"),
    ],
)
def test_ship_gate(candidate, shipped, ship, why):
    verdict = real_data.ship_gate(candidate, shipped)
    assert verdict["ship"] is ship
    assert (why in " ".join(verdict["reasons"])) if why else verdict["reasons"] == []
