"""The camera tests' scene is the one tests/cameras/scene.py describes, whatever the generator's defaults."""

from __future__ import annotations

import dataclasses

import pytest

from tests.cameras.scene import CONFIG, scene
from vision.datagen import SceneConfig
from vision.detection import PERSON_NO_HELMET


def test_every_knob_of_the_scene_config_is_pinned():
    unpinned = [f.name for f in dataclasses.fields(SceneConfig) if getattr(CONFIG, f.name) is None]
    assert unpinned == [], "pin every knob: a None follows the generator's (training) defaults"
    assert CONFIG.people_draw() == ((0.45, 0.9), 0.6, 0.0)
    assert CONFIG.hard is False  # scene() draws with scene_rng(SEED, INDEX, hard=False)


def test_the_scene_holds_what_the_camera_tests_rely_on():
    meta = scene().meta
    assert meta["plan_spacing_m"] == 0.75
    assert [p["helmet"] for p in meta["persons"]] == [False]
    (bare,) = [b for b in scene().boxes if b[0] == PERSON_NO_HELMET]
    assert (bare[3] - bare[1], bare[4] - bare[2]) == pytest.approx((113, 248), abs=1)
    bays = [(s["spacing_m"], s["over_plan"]) for s in meta["spacings"]]
    assert [round(m, 3) for m, _ in bays] == [1.126, 0.884, 1.494, 0.737]
    assert [over for _, over in bays] == [True, True, True, False]
    assert 1.0 <= meta["target"]["size_m"] <= 1.2
