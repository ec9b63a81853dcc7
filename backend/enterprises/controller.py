"""Regulator API for enterprises, and the department lookup by credit code."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.accounts.schemas import Page
from backend.auth.guards import scope
from backend.deps import Limit, Offset, PrincipalDep
from backend.enterprises import service
from backend.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseKind,
    EnterpriseOut,
    EnterprisePublic,
    EnterpriseUpdate,
)


class EnterprisePage(Page):
    items: list[EnterpriseOut]


class EnterpriseController(Controller):
    path = "/api/v1/enterprises"
    tags = ["enterprises"]

    @post("/", summary="Register an enterprise (unified social credit code checked)")
    async def create(self, data: JSONBody[EnterpriseCreate], principal: PrincipalDep) -> EnterpriseOut:
        return await service.create_enterprise(principal, data)

    @get("/")
    async def list_enterprises(
        self,
        principal: PrincipalDep,
        kind: FromQuery[EnterpriseKind | None] = None,
        q: FromQuery[str | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> EnterprisePage:
        total, items = await service.list_enterprises(principal, kind=kind, q=q, limit=limit, offset=offset)
        return EnterprisePage(total=total, limit=limit, offset=offset, items=items)

    @get("/{enterprise_id:uuid}")
    async def get_enterprise(self, enterprise_id: FromPath[UUID], principal: PrincipalDep) -> EnterpriseOut:
        return await service.get_enterprise(principal, enterprise_id)

    @patch("/{enterprise_id:uuid}")
    async def update(
        self, enterprise_id: FromPath[UUID], data: JSONBody[EnterpriseUpdate], principal: PrincipalDep
    ) -> EnterpriseOut:
        return await service.update_enterprise(principal, enterprise_id, data)


class PartnerEnterpriseController(Controller):
    """Other departments' systems, authenticated by API key (X-API-Key)."""

    path = "/api/v1/partner/enterprises"
    tags = ["partner"]
    guards = [scope("enterprises:read")]

    @get("/{uscc:str}", summary="An enterprise by unified social credit code")
    async def by_uscc(self, uscc: FromPath[str], principal: PrincipalDep) -> EnterprisePublic:
        return await service.public_by_uscc(principal, uscc)
