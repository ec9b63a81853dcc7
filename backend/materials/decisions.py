"""The supervisor's decision on a batch with properties not checked (未判定项目的使用决定).

A property with no sourced limit, or not given by the report, is "not checked": nothing failed, but nobody has
shown it passes. Such a batch is not usable until a named supervisor of the project's supervision firm
(《建设工程质量管理条例》第三十七条: materials are not used without the supervising engineer's signature —
[S] web.aigexing.com/zhichang/2433592) decides, with a reason. A later report, a void or a correction lapses the decision (reports.py).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis

from backend.accounts.tables import User
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import Conflict
from backend.materials.reports import active_reports, unchecked_items
from backend.materials.rules import Status, usable
from backend.materials.schemas import UseDecisionIn, UseDecisionOut
from backend.materials.service import _batch, _event, _touch, invalidate, project_for
from backend.materials.tables import MaterialBatch, UseDecision


async def _supervisor_name(actor: Principal, project_id: UUID) -> str:
    """The deciding supervisor's name, once the access policy lets them decide (decide_material_use)."""
    await project_for(actor, project_id, "decide_material_use")
    user = await User.select(User.display_name).where(User.id == actor.id).first()
    return user["display_name"] if user else ""


def _out(row: dict[str, Any], batch: dict[str, Any]) -> UseDecisionOut:
    status = Status(batch["status"])
    return UseDecisionOut(
        id=row["id"], batch_id=row["batch"], accepted=row["accepted"], reason=row["reason"],
        decided_by=row["decided_by"], decider_name=row["decider_name"], unchecked=row["unchecked"],
        decided_at=row["decided_at"], lapsed=row["lapsed_at"] is not None, batch_status=status,
        usable=usable(status, batch["use_decision"]),
    )


async def decide_use(redis: Redis, actor: Principal, batch_id: UUID, data: UseDecisionIn) -> UseDecisionOut:
    """Record the supervisor's decision (accept the unchecked items for use, or not) on a partially checked batch."""
    batch = await _batch(batch_id)
    name = await _supervisor_name(actor, batch["project"])
    decision_id = uuid4()
    async with MaterialBatch._meta.db.transaction():
        locked = await MaterialBatch.raw(
            "SELECT status, use_decision FROM material_batches WHERE id = {} FOR UPDATE", batch_id)
        if Status(locked[0]["status"]) is not Status.PARTIALLY_CHECKED:
            raise Conflict("BATCH_STATE", detail={"status": locked[0]["status"], "event": "use_decision"})
        reports = await active_reports(batch_id)
        unchecked = unchecked_items(reports)
        # The newer decision replaces any standing one (accepting or refusing): one decision stands at a time.
        await UseDecision.update({UseDecision.lapsed_at: utcnow()}).where(
            (UseDecision.batch == batch_id) & UseDecision.lapsed_at.is_null())
        await UseDecision.insert(UseDecision(
            id=decision_id, batch=batch_id, accepted=data.accept, reason=data.reason.strip(), decided_by=actor.id,
            decider_name=name, unchecked=json.dumps(unchecked, ensure_ascii=False),
            reports=json.dumps([str(r["id"]) for r in reports])))
        await MaterialBatch.update({MaterialBatch.use_decision: decision_id if data.accept else None}).where(
            MaterialBatch.id == batch_id)
        await _touch(batch_id)
        await _event(batch_id, "use_decision", actor, detail={
            "decision": str(decision_id), "accepted": data.accept, "reason": data.reason, "by": name,
            "unchecked": [u["property"] for u in unchecked]})
    await invalidate(redis, batch_id)
    row = await UseDecision.select().where(UseDecision.id == decision_id).output(load_json=True).first()
    return _out(row, await _batch(batch_id))


async def list_decisions(actor: Principal, batch_id: UUID) -> list[UseDecisionOut]:
    batch = await _batch(batch_id)
    await project_for(actor, batch["project"])
    rows = await UseDecision.select().where(UseDecision.batch == batch_id).order_by(
        UseDecision.decided_at).output(load_json=True)
    return [_out(r, batch) for r in rows]
