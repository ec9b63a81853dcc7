"""Detection classes and the one detection record shared by the generator, detector and rules."""

from __future__ import annotations

from dataclasses import dataclass

# Order is the YOLO class id; changing it invalidates every dataset and model trained before.
CLASSES: tuple[str, ...] = (
    "upright",  # 立杆: vertical support tube (prop) of the formwork support system
    "ledger",  # 水平杆: horizontal tube between two adjacent uprights (one box per bay); sweep rods included
    "beam",  # 主楞/托梁: horizontal bearer on the upright heads, under the formwork
    "formwork_panel",  # 模板: plywood / steel panel of the formwork (one box per panel)
    "person_helmet",  # whole person, wearing a safety helmet (安全帽)
    "person_no_helmet",  # whole person, no safety helmet: a safety risk
)
CLASS_ID = {name: i for i, name in enumerate(CLASSES)}
UPRIGHT, LEDGER, BEAM, FORMWORK_PANEL, PERSON_HELMET, PERSON_NO_HELMET = range(len(CLASSES))

# Outer diameter of the standard steel support tube (Φ48.3 × 3.6 mm, JGJ 130 / JGJ 166).
TUBE_DIAMETER_M = 0.0483


@dataclass(frozen=True, slots=True)
class Detection:
    """One box in original image pixels (x1, y1, x2, y2), with its class id and confidence."""

    x1: float
    y1: float
    x2: float
    y2: float
    class_id: int
    confidence: float = 1.0

    @property
    def class_name(self) -> str:
        return CLASSES[self.class_id] if 0 <= self.class_id < len(CLASSES) else str(self.class_id)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1
