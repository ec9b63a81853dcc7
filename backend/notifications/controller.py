"""Regulator API for notifications: delivery receipts and department webhooks."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from backend.deps import Limit, Offset, PrincipalDep
from backend.notifications import service
from backend.notifications.schemas import (
    NotificationReceipts,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookOut,
)


class NotificationController(Controller):
    path = "/api/v1"
    tags = ["notifications"]

    @get("/notifications/{notification_id:uuid}/receipts", summary="Delivery receipts per channel")
    async def receipts(self, principal: PrincipalDep, notification_id: FromPath[UUID]) -> NotificationReceipts:
        return await service.receipts(principal, notification_id)

    @post("/webhooks", summary="Register a department webhook (its signing secret is shown once)")
    async def create_webhook(self, principal: PrincipalDep, data: JSONBody[WebhookCreate]) -> WebhookCreated:
        return await service.create_webhook(principal, data)

    @get("/webhooks")
    async def list_webhooks(self, principal: PrincipalDep) -> list[WebhookOut]:
        return await service.list_webhooks(principal)

    @post("/webhooks/{webhook_id:uuid}/deactivate", status_code=200)
    async def deactivate(self, principal: PrincipalDep, webhook_id: FromPath[UUID]) -> WebhookOut:
        return await service.set_webhook_active(principal, webhook_id, False)

    @post("/webhooks/{webhook_id:uuid}/activate", status_code=200)
    async def activate(self, principal: PrincipalDep, webhook_id: FromPath[UUID]) -> WebhookOut:
        return await service.set_webhook_active(principal, webhook_id, True)

    @get("/webhooks/{webhook_id:uuid}/deliveries", summary="The webhook's delivery log")
    async def deliveries(
        self, principal: PrincipalDep, webhook_id: FromPath[UUID], limit: Limit = 50, offset: Offset = 0
    ) -> list[WebhookDeliveryOut]:
        return await service.webhook_deliveries(principal, webhook_id, limit, offset)
