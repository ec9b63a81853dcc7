"""Gates of a stage or completion acceptance (验收条件), computed from what the system knows.

An acceptance is refused while any of these is open, each listed with a link to it:
- a material batch with an unresolved failure (检测不合格 or 进场验收不合格, not yet removed from site);
- an active quality hold (质量暂停);
- a danger-level monitoring alarm (危险报警) not cleared;
- a citizen complaint about the project still open;
- an inspection request (工序报验) of the stage unanswered, or failed and not yet re-requested.

The other domains' rows are read here with one SQL statement per kind (read-only, by status values those
domains define), so that this gate needs no change in their files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from backend import db
from backend.complaints.rules import OPEN as COMPLAINT_OPEN
from backend.lifecycle.rules import INSPECTION_OPEN, InspectionStage
from backend.lifecycle.schemas import BlockingItem
from backend.materials.rules import Status as BatchStatus
from backend.monitoring.rules import Level

_FAILED_BATCH = [BatchStatus.NON_CONFORMING.value, BatchStatus.ENTRY_REJECTED.value]

# (kind, link, SQL, which of the arguments it takes: 0 project, 1 failed batch states, 2 danger level,
#  3 open complaint states, 4 inspection stages, 5 open inspection states)
_QUERIES: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("material_batch_failed", "/api/v1/materials/batches/{id}",
     "SELECT id, material || ' ' || grade || ' ' || production_batch_no AS label, status AS state"
     " FROM material_batches WHERE project = $1 AND status = ANY($2::text[]) ORDER BY created_at", (0, 1)),
    ("quality_hold_active", "/api/v1/quality-holds/{id}/events",
     "SELECT h.id, e.name AS label, h.status AS state FROM quality_holds h JOIN enterprises e ON e.id = h.enterprise"
     " WHERE h.project = $1 AND h.status = 'active' ORDER BY h.started_at", (0,)),
    ("danger_alarm_open", "/api/v1/monitoring/alarms/{id}",
     "SELECT id, metric AS label, status AS state FROM monitoring_alarms"
     " WHERE project = $1 AND level >= $2 AND status <> 'cleared' ORDER BY first_at", (0, 2)),
    ("complaint_open", "/api/v1/complaints/{id}",
     "SELECT id, number AS label, status AS state FROM complaints"
     " WHERE project = $1 AND status = ANY($2::text[]) ORDER BY submitted_at", (0, 3)),
    ("inspection_open", "/api/v1/inspection-requests/{id}",
     "SELECT id, CASE stage WHEN 'foundation' THEN '地基与基础' WHEN 'structure' THEN '主体结构' ELSE '装饰装修等' END"
     " || ' ' || lot AS label, status AS state FROM inspection_requests"
     " WHERE project = $1 AND stage = ANY($2::text[]) AND status = ANY($3::text[]) ORDER BY submitted_at", (0, 4, 5)),
)


async def blocking_items(project_id: UUID, inspection_stages: Sequence[InspectionStage]) -> list[BlockingItem]:
    """Everything that blocks an acceptance of this project now, each with a link to it (empty: the gate opens)."""
    args: list[Any] = [
        project_id, _FAILED_BATCH, int(Level.DANGER), sorted(s.value for s in COMPLAINT_OPEN),
        [s.value for s in inspection_stages], sorted(s.value for s in INSPECTION_OPEN),
    ]
    items: list[BlockingItem] = []
    async with db.connection() as conn:
        for kind, link, sql, used in _QUERIES:
            rows = await conn.fetch(sql, *(args[i] for i in used))
            items += [BlockingItem(kind=kind, id=r["id"], label=str(r["label"] or ""), state=r["state"],
                                   link=link.format(id=r["id"])) for r in rows]
    return items
