"""ARQ jobs of notifications: deliver receipts, escalation steps, and the reconciler."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog

from backend.db import utcnow
from backend.notifications import delivery, escalation
from backend.notifications.service import enqueue_delivery

log = structlog.get_logger("zhijian.notifications.jobs")


async def deliver_notifications(ctx: dict[str, Any], wechat_ids: list[str], webhook_ids: list[str]) -> dict[str, Any]:
    """Send these pending receipts (idempotent: only unclaimed, due receipts are sent)."""
    result: dict[str, Any] = {}
    if wechat_ids:
        result["wechat"] = await delivery.deliver_wechat(
            [UUID(i) for i in wechat_ids], settings=ctx["settings"], wechat=ctx["wechat"], arq=ctx["redis"]
        )
    if webhook_ids:
        result["webhook"] = await delivery.deliver_webhooks(
            [UUID(i) for i in webhook_ids], settings=ctx["settings"], http=ctx["http"], arq=ctx["redis"]
        )
    return result


async def escalation_step(ctx: dict[str, Any], escalation_id: str, step: int) -> str:
    return await escalation.run_step(escalation_id, step, settings=ctx["settings"], arq=ctx["redis"])


async def reconcile_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """Rebuild what Redis may have lost: close interrupted sends, re-queue due receipts, fix escalations."""
    now = utcnow()
    closed = await delivery.close_interrupted(now)
    wechat_ids, webhook_ids = await delivery.due_receipts(now, timedelta(seconds=ctx["settings"].NOTIFY_RECONCILE_GRACE_S))
    for start in range(0, max(len(wechat_ids), len(webhook_ids)), 500):
        chunk_w, chunk_h = wechat_ids[start : start + 500], webhook_ids[start : start + 500]
        key = f"reconcile:{int(now.timestamp())}:{start}"
        await enqueue_delivery(ctx["redis"], chunk_w, chunk_h, job_key=key)
    esc = await escalation.reconcile(now, settings=ctx["settings"], arq=ctx["redis"])
    result = {"interrupted_closed": closed, "requeued": len(wechat_ids) + len(webhook_ids), **esc}
    if any(result.values()):
        log.info("notifications_reconciled", **result)
    return result
