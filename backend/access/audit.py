"""Writing and reading the personal-data audit (pii_reads)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from backend.access.tables import PiiRead
from backend.auth.principal import Principal
from backend.errors import Forbidden


class PiiReadOut(msgspec.Struct):
    id: UUID
    at: datetime
    actor: UUID
    actor_role: str
    actor_enterprise: UUID | None
    what: str
    worker: UUID | None
    project: UUID | None
    detail: str


async def record_pii_read(actor: Principal, what: str, *, worker: UUID | None = None, project: UUID | None = None,
                          detail: str = "") -> None:
    """One audit row per unmasked read or export (call before the data leaves the service)."""
    await PiiRead.insert(PiiRead(
        actor=actor.id, actor_role=actor.role.value if actor.role else actor.kind,
        actor_enterprise=actor.enterprise_id, what=what, worker=worker, project=project, detail=detail[:64],
    ))


async def list_pii_reads(actor: Principal, worker: UUID | None, limit: int, offset: int) -> list[PiiReadOut]:
    """Newest first; city admins only."""
    if not actor.is_city_wide:
        raise Forbidden("FORBIDDEN_ROLE")
    query = PiiRead.select().order_by(PiiRead.at, ascending=False).limit(limit).offset(offset)
    if worker is not None:
        query = query.where(PiiRead.worker == worker)
    return [PiiReadOut(id=r["id"], at=r["at"], actor=r["actor"], actor_role=r["actor_role"],
                       actor_enterprise=r["actor_enterprise"], what=r["what"], worker=r["worker"],
                       project=r["project"], detail=r["detail"]) for r in await query]
