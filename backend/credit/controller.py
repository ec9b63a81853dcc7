"""Credit API: regulators (/api/v1/credit), departments by API key (/open/v1/credit), the console page."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, asgi, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import Receive, Scope, Send

from backend.auth.guards import roles, scope
from backend.auth.principal import Role
from backend.credit import dashboard, open_api, public, service
from backend.credit.admin import build_admin
from backend.credit.schemas import (
    AppealDecision,
    AppealIn,
    AppealOut,
    AuditOut,
    BulkCheckIn,
    BulkCheckOut,
    ConsoleTicket,
    CreditStatus,
    EnterpriseCredit,
    ListingDetail,
    ListingOut,
    ManualEventIn,
    ReasonIn,
)
from backend.deps import ArqDep, Limit, Offset, PrincipalDep, RedisDep, SettingsDep
from backend.materials.schemas import CreditEventOut

STAFF = roles(Role.INSPECTOR, Role.REGULATOR_ADMIN)


class CreditController(Controller):
    path = "/api/v1/credit"
    tags = ["credit"]

    @post("/events", guards=[roles(Role.REGULATOR_ADMIN)], summary="A regulator's manual credit event with a reason")
    async def manual_event(self, data: JSONBody[ManualEventIn], principal: PrincipalDep, settings: SettingsDep,
                           arq: ArqDep) -> CreditEventOut:
        return await service.manual_event(settings, arq, principal, data)

    @get("/enterprises/{enterprise_id:uuid}", guards=[STAFF], summary="Score, lists, history and events")
    async def enterprise(self, enterprise_id: FromPath[UUID], principal: PrincipalDep) -> EnterpriseCredit:
        return await service.enterprise_credit(principal, enterprise_id)

    @get("/listings", guards=[STAFF], summary="Red and black list entries")
    async def listings(self, principal: PrincipalDep, list_kind: FromQuery[Literal["red", "black"] | None] = None,
                       status: FromQuery[Literal["notice", "appealed", "active", "withdrawn", "removed"] | None] = None,
                       limit: Limit = 50, offset: Offset = 0) -> list[ListingOut]:
        return await service.list_listings(principal, list_kind, status, limit, offset)

    @get("/listings/{listing_id:uuid}", summary="A listing with its timeline and appeals")
    async def listing(self, listing_id: FromPath[UUID], principal: PrincipalDep) -> ListingDetail:
        return await service.listing_detail(principal, listing_id)

    @post("/listings/{listing_id:uuid}/appeals", guards=[roles(Role.PROJECT_LEAD, Role.SUPERVISOR)],
          summary="The listed enterprise appeals (异议申诉)")
    async def appeal(self, listing_id: FromPath[UUID], data: JSONBody[AppealIn], principal: PrincipalDep,
                     settings: SettingsDep, arq: ArqDep) -> AppealOut:
        return await service.submit_appeal(settings, arq, principal, listing_id, data.reason)

    @post("/listings/{listing_id:uuid}/suspend", status_code=200, guards=[roles(Role.REGULATOR_ADMIN)],
          summary="Suspend an appealed black listing's restrictions until the appeal is decided, with a reason")
    async def suspend(self, listing_id: FromPath[UUID], data: JSONBody[ReasonIn], principal: PrincipalDep,
                      settings: SettingsDep, arq: ArqDep) -> ListingOut:
        return await service.suspend_restrictions(settings, arq, principal, listing_id, data.reason)

    @post("/listings/{listing_id:uuid}/new-evidence", status_code=200, guards=[roles(Role.REGULATOR_ADMIN)],
          summary="Accept new evidence after a rejected appeal: one more appeal is allowed")
    async def new_evidence(self, listing_id: FromPath[UUID], data: JSONBody[ReasonIn], principal: PrincipalDep,
                           settings: SettingsDep, arq: ArqDep) -> ListingOut:
        return await service.accept_new_evidence(settings, arq, principal, listing_id, data.reason)

    @post("/appeals/{appeal_id:uuid}/decision", status_code=200, guards=[roles(Role.REGULATOR_ADMIN)],
          summary="Decide an appeal: upheld withdraws the listing")
    async def decide(self, appeal_id: FromPath[UUID], data: JSONBody[AppealDecision], principal: PrincipalDep,
                     settings: SettingsDep, arq: ArqDep) -> AppealOut:
        return await service.decide_appeal(settings, arq, principal, appeal_id, data)

    @post("/recompute", status_code=200, guards=[roles(Role.REGULATOR_ADMIN)], summary="Run the periodic rescoring now")
    async def recompute(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep) -> dict[str, int]:
        return await service.recompute_now(settings, arq, principal)

    @get("/audit", guards=[roles(Role.REGULATOR_ADMIN)], summary="Audit trail of credit changes and queries")
    async def audit(self, principal: PrincipalDep, enterprise_id: FromQuery[UUID | None] = None,
                    action: FromQuery[str | None] = None, limit: Limit = 50, offset: Offset = 0) -> list[AuditOut]:
        return await open_api.audit_log(principal, enterprise_id, action, limit, offset)

    @get("/dashboard", guards=[STAFF], summary="The console's figures as JSON")
    async def figures(self, principal: PrincipalDep, settings: SettingsDep) -> dict[str, Any]:
        return await dashboard.figures(settings, principal)

    @post("/console-ticket", guards=[STAFF], summary="A one-time ticket that opens the console page in a browser")
    async def ticket(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep) -> ConsoleTicket:
        ticket = await dashboard.issue_ticket(settings, redis, principal)
        return ConsoleTicket(ticket=ticket, url=f"/console/dashboard?ticket={ticket}",
                             expires_in=settings.CREDIT_CONSOLE_TICKET_S)


class ConsoleController(Controller):
    path = "/console"
    tags = ["console"]

    @get("/dashboard", exclude_from_auth=True, summary="The regulators' dashboard page (opened with a console ticket)")
    async def page(self, settings: SettingsDep, redis: RedisDep, ticket: FromQuery[str] = "") -> Response[str]:
        principal = await dashboard.redeem_ticket(redis, ticket)
        body = dashboard.render_html(await dashboard.figures(settings, principal))
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class PublicCreditController(Controller):
    """The public lists (公示): no sign-in, nothing personal, cached (backend.credit.public)."""

    path = "/public/credit"
    tags = ["public-credit"]

    @get("/lists.json", exclude_from_auth=True, summary="Listings in notice and in force (Open311-style JSON array)")
    async def feed(self, settings: SettingsDep, redis: RedisDep) -> Response[bytes]:
        body = await public.public_lists(settings, redis)
        return Response(body, media_type="application/json",
                        headers={"Cache-Control": f"public, max-age={settings.CREDIT_PUBLIC_CACHE_S}"})

    @get("/lists", exclude_from_auth=True, summary="The public page of the red and black lists")
    async def page(self, settings: SettingsDep, redis: RedisDep) -> Response[str]:
        entries = msgspec.json.decode(await public.public_lists(settings, redis))
        return Response(public.render_html(entries), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": f"public, max-age={settings.CREDIT_PUBLIC_CACHE_S}"})


class OpenCreditController(Controller):
    """For other departments' systems (transport, water, fire, procurement): X-API-Key with credit:read."""

    path = "/open/v1/credit"
    tags = ["open-credit"]
    guards = [scope("credit:read")]

    @get("/enterprises/{uscc:str}", summary="Credit status by unified social credit code")
    async def status(self, uscc: FromPath[str], principal: PrincipalDep, settings: SettingsDep,
                     redis: RedisDep) -> CreditStatus:
        return await open_api.status_by_uscc(settings, redis, principal, uscc)

    @post("/bulk-check", status_code=200, summary="Up to 100 codes at once")
    async def bulk(self, data: JSONBody[BulkCheckIn], principal: PrincipalDep, settings: SettingsDep,
                   redis: RedisDep) -> BulkCheckOut:
        return await open_api.bulk_check(settings, redis, principal, data.codes)


_ADMIN: dict[bool, object] = {}


@asgi("/admin", is_mount=True, exclude_from_auth=True, copy_scope=True)
async def admin_console(scope: Scope, receive: Receive, send: Send) -> None:
    """piccolo-admin, regulator admins only (its own session sign-in with the staff password)."""
    production = scope["app"].state.settings.ENV == "production"
    if production not in _ADMIN:
        _ADMIN[production] = build_admin(production)
    await _ADMIN[production](scope, receive, send)  # type: ignore[operator]
