"""Cross-department queries (跨部门查询) by unified social credit code: audited and rate limited per key."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from backend import ratelimit
from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.credit.audit import audit
from backend.credit.schemas import AuditOut, BulkCheckOut, BulkItem, CreditStatus
from backend.credit.service import status_of
from backend.credit.tables import CreditAudit
from backend.enterprises.tables import Enterprise
from backend.errors import NotFound
from backend.settings import Settings

SCOPE = "credit:read"


async def _throttle(settings: Settings, redis: Redis, actor: Principal) -> None:
    await ratelimit.hit(redis, f"credit:open:{actor.id}", settings.CREDIT_OPEN_RATE_PER_MIN, 60)


def _norm(code: str) -> str:
    return code.strip().upper()


async def status_by_uscc(settings: Settings, redis: Redis, actor: Principal, uscc: str) -> CreditStatus:
    """One enterprise's credit status for a department's key (scope credit:read)."""
    access_policy.require(actor, "key_scope", {"scope": SCOPE})
    await _throttle(settings, redis, actor)
    code = _norm(uscc)
    ent = await Enterprise.select().where(Enterprise.uscc == code).first()
    if ent is None:
        await audit(actor, "query.status", None, {"uscc": code, "found": False})
        raise NotFound("ENTERPRISE_NOT_FOUND")
    result = await status_of(ent)
    await audit(actor, "query.status", ent["id"], {"uscc": code, "found": True, "band": result.band,
                                                   "black": result.black_listed, "red": result.red_listed})
    return result


async def bulk_check(settings: Settings, redis: Redis, actor: Principal, codes: list[str]) -> BulkCheckOut:
    """Up to 100 codes in one call (one hit on the rate limit); unknown codes come back found=false."""
    access_policy.require(actor, "key_scope", {"scope": SCOPE})
    await _throttle(settings, redis, actor)
    wanted = list(dict.fromkeys(_norm(c) for c in codes))
    rows = await Enterprise.select().where(Enterprise.uscc.is_in(wanted))
    by_code = {r["uscc"]: r for r in rows}
    items = []
    for code in wanted:
        ent = by_code.get(code)
        items.append(BulkItem(uscc=code, found=ent is not None, status=await status_of(ent) if ent else None))
    await audit(actor, "query.bulk", None, {
        "codes": wanted, "found": sorted(by_code),
        "black": [i.uscc for i in items if i.status and i.status.black_listed],
    })
    return BulkCheckOut(items=items)


async def audit_log(actor: Principal, enterprise_id: UUID | None, action: str | None, limit: int, offset: int
                    ) -> list[AuditOut]:
    """The audit trail (city-wide admins): changes and every department query."""
    access_policy.require(actor, "city_admin", {"kind": "credit_audit"})
    query = CreditAudit.select()
    if enterprise_id is not None:
        query = query.where(CreditAudit.enterprise == enterprise_id)
    if action:
        query = query.where(CreditAudit.action == action)
    rows = await query.order_by(CreditAudit.id, ascending=False).limit(limit).offset(offset)
    return [AuditOut(actor_kind=r["actor_kind"], actor_id=r["actor_id"], actor_name=r["actor_name"], action=r["action"],
                     enterprise_id=r["enterprise"], detail=_load(r["detail"]), at=r["at"]) for r in rows]


def _load(value: Any) -> dict:
    return value if isinstance(value, dict) else json.loads(value or "{}")
