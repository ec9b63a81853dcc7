"""The synthetic scene generator: deterministic, valid YOLO labels, every class, a working CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vision.datagen import SceneConfig, generate_scene, scene_rng, yolo_lines
from vision.datagen.__main__ import main
from vision.detection import CLASSES


@pytest.mark.parametrize("hard", [False, True])
def test_same_seed_same_scene(hard):
    a = generate_scene(scene_rng(5, 3, hard), SceneConfig(hard=hard))
    b = generate_scene(scene_rng(5, 3, hard), SceneConfig(hard=hard))
    assert np.array_equal(a.image, b.image)
    assert a.boxes == b.boxes and a.meta == b.meta


@pytest.mark.parametrize(("seed", "index", "hard"), [(6, 3, False), (5, 4, False), (5, 3, True)])
def test_other_seed_index_or_mode_differ(seed, index, hard):
    base = generate_scene(scene_rng(5, 3, False))
    other = generate_scene(scene_rng(seed, index, hard), SceneConfig(hard=hard))
    assert not np.array_equal(base.image, other.image)


@pytest.mark.parametrize("hard", [False, True])
def test_labels_are_valid_and_cover_every_class(hard):
    seen = set()
    for i in range(30):
        scene = generate_scene(scene_rng(11, i, hard), SceneConfig(hard=hard))
        assert scene.image.shape == (640, 640, 3) and scene.image.dtype == np.uint8
        for line in yolo_lines(scene):
            cls, cx, cy, w, h = line.split()
            cls, cx, cy, w, h = int(cls), float(cx), float(cy), float(w), float(h)
            assert 0 <= cls < len(CLASSES)
            assert 0 < w <= 1 and 0 < h <= 1
            assert -1e-6 <= cx - w / 2 and cx + w / 2 <= 1 + 1e-6
            assert -1e-6 <= cy - h / 2 and cy + h / 2 <= 1 + 1e-6
            seen.add(cls)
    assert seen == set(range(len(CLASSES)))


def test_image_size_is_configurable():
    scene = generate_scene(scene_rng(1, 0, False), SceneConfig(width=320, height=256))
    assert scene.image.shape == (256, 320, 3)
    assert all(x2 <= 320 and y2 <= 256 for _, _, _, x2, y2 in scene.boxes)


def test_cli_writes_a_yolo_dataset(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--count", "10", "--seed", "3", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 10 and summary["splits"] == ["train", "val"]
    assert len(list((tmp_path / "images" / "train").glob("*.jpg"))) == 9
    assert len(list((tmp_path / "labels" / "val").glob("*.txt"))) == 1
    assert len(list((tmp_path / "meta" / "train").glob("*.json"))) == 9
    yaml_text = (tmp_path / "data.yaml").read_text()
    assert "train: images/train" in yaml_text and "val: images/val" in yaml_text
    assert all(f"  {i}: {name}" in yaml_text for i, name in enumerate(CLASSES))


def test_cli_held_out_split_regenerates_identically(tmp_path, capsys):
    for run in ("a", "b"):
        assert (
            main(
                [
                    "--out",
                    str(tmp_path / run),
                    "--count",
                    "4",
                    "--seed",
                    "9",
                    "--hard",
                    "--split",
                    "test",
                    "--quiet",
                ]
            )
            == 0
        )
    capsys.readouterr()
    yaml_text = (tmp_path / "a" / "data.yaml").read_text()
    assert "val: images/test" in yaml_text and "test: images/test" in yaml_text
    for f in sorted((tmp_path / "a" / "images" / "test").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / "images" / "test" / f.name).read_bytes()
    meta = json.loads(next((tmp_path / "a" / "meta" / "test").glob("*.json")).read_text())
    assert {"plane_to_image", "uprights", "spacings", "plan_spacing_m", "seed", "index"} <= meta.keys()


@pytest.mark.parametrize("args", [["--count", "0"], ["--count", "5", "--val-fraction", "1.0"]])
def test_cli_refuses_bad_arguments(tmp_path, args):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--seed", "1", *args])
