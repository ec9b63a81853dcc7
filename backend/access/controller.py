"""/api/v1/access: the personal-data audit for city admins."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.params import FromQuery

from backend.access import audit
from backend.deps import Limit, Offset, PrincipalDep


class AccessController(Controller):
    path = "/api/v1/access"
    tags = ["access"]

    @get("/pii-reads", summary="Every unmasked read of a worker's personal data and every unmasked export (city admins)")
    async def pii_reads(self, principal: PrincipalDep, worker_id: FromQuery[UUID | None] = None, limit: Limit = 50,
                        offset: Offset = 0) -> list[audit.PiiReadOut]:
        return await audit.list_pii_reads(principal, worker_id, limit, offset)
