"""/mp/v1 inbox and subscription report: what the user was told, and what they accepted."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.principal import Role
from backend.deps import Limit, Offset, PrincipalDep, SettingsDep
from backend.notifications import service
from backend.notifications.schemas import (
    InboxItem,
    InboxPage,
    SubscriptionOut,
    SubscriptionReport,
    UnreadCount,
)

# Every user role (an API key has none and is refused).
_ROLES = tuple(Role)


class MpInboxController(Controller):
    path = "/mp/v1"
    tags = ["mp-inbox"]

    @get("/inbox", summary="My notifications, newest first")
    async def inbox(
        self, principal: PrincipalDep, unread_only: FromQuery[bool] = False, limit: Limit = 20, offset: Offset = 0
    ) -> InboxPage:
        principal.require_role(*_ROLES)
        return await service.inbox(principal.id, unread_only=unread_only, limit=limit, offset=offset)

    @get("/inbox/unread-count")
    async def unread(self, principal: PrincipalDep) -> UnreadCount:
        principal.require_role(*_ROLES)
        return UnreadCount(unread=await service.unread_count(principal.id))

    @post("/inbox/{notification_id:uuid}/read", status_code=200)
    async def mark_read(self, principal: PrincipalDep, notification_id: FromPath[UUID]) -> InboxItem:
        principal.require_role(*_ROLES)
        return await service.mark_read(principal, notification_id)

    @post("/inbox/read-all", status_code=200)
    async def mark_all_read(self, principal: PrincipalDep) -> UnreadCount:
        principal.require_role(*_ROLES)
        await service.mark_all_read(principal.id)
        return UnreadCount(unread=0)

    @get("/subscriptions", summary="Remaining subscribe-message quota per template")
    async def subscriptions(self, principal: PrincipalDep, settings: SettingsDep) -> list[SubscriptionOut]:
        principal.require_role(*_ROLES)
        return await service.subscriptions(settings, principal.id)

    @post("/subscriptions", status_code=200, summary="Report a wx.requestSubscribeMessage result")
    async def report(
        self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[SubscriptionReport]
    ) -> list[SubscriptionOut]:
        principal.require_role(*_ROLES)
        return await service.report_subscriptions(settings, principal.id, data)
