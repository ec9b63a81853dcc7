"""The credit audit log (审计): one row for every change and every query of credit data."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from backend.auth.principal import Principal
from backend.credit.tables import CreditAudit
from backend.db import utcnow


async def audit(actor: Principal | None, action: str, enterprise: UUID | None, detail: dict[str, Any]) -> None:
    """Write one audit row; actor None is the system (crons, other domains' events)."""
    await CreditAudit.insert(CreditAudit(
        actor_kind=actor.kind if actor else "system",
        actor_id=actor.id if actor else None,
        actor_name=(actor.name if actor else "system")[:128],
        action=action,
        enterprise=enterprise,
        detail=json.dumps(detail, ensure_ascii=False, default=str),
        at=utcnow(),
    ))
