"""Seeded generator of labelled synthetic formwork-support scenes in YOLO format (see vision/DATA_CARD.md)."""

from vision.datagen.scene import PLAN_SPACINGS_M, Scene, SceneConfig, generate_scene
from vision.datagen.writer import scene_rng, write_dataset, yolo_lines

__all__ = [
    "PLAN_SPACINGS_M",
    "Scene",
    "SceneConfig",
    "generate_scene",
    "scene_rng",
    "write_dataset",
    "yolo_lines",
]
