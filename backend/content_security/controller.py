"""WeChat's message-push endpoint (signature checked, no token) and the station's content review."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.content_security import push, service
from backend.content_security.schemas import ContentCheckEventOut, ContentCheckOut, ContentReview
from backend.deps import Limit, Offset, PrincipalDep, SettingsDep


class WechatPushController(Controller):
    """``/wechat/push``: WeChat calls it; authenticated by the push signature, not by a token."""

    path = "/wechat/push"
    tags = ["wechat"]

    @get("/", exclude_from_auth=True, media_type="text/plain", summary="Message-push URL check (echostr)")
    async def check(
        self, settings: SettingsDep, signature: FromQuery[str] = "", timestamp: FromQuery[str] = "",
        nonce: FromQuery[str] = "", echostr: FromQuery[str] = "",
    ) -> str:
        return push.echo(settings, signature, timestamp, nonce, echostr)

    @post("/", exclude_from_auth=True, status_code=200, media_type="text/plain", summary="A pushed event")
    async def receive(self, request: Request, settings: SettingsDep) -> str:
        event = push.open_body(settings, await request.body(), dict(request.query_params))
        await push.handle(event)
        return "success"  # WeChat's documented acknowledgement


class ContentReviewController(Controller):
    """Station staff (inspector, regulator_admin) of the case's district; a city-wide admin everywhere."""

    path = "/api/v1/content-checks"
    tags = ["content security"]

    @get("/", summary="Hidden texts and photos awaiting review")
    async def queue(self, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0) -> list[ContentCheckOut]:
        return [ContentCheckOut(**r) for r in await service.review_queue(principal, limit, offset)]

    @post("/{check_id:uuid}/review", status_code=200, summary="Approve (publish) or remove a hidden text or photo")
    async def review(self, principal: PrincipalDep, check_id: FromPath[UUID], data: JSONBody[ContentReview]) -> ContentCheckOut:
        return ContentCheckOut(**await service.review(principal, check_id, data.decision, data.reason))

    @get("/{check_id:uuid}/events", summary="The audit trail of one check")
    async def events(self, principal: PrincipalDep, check_id: FromPath[UUID]) -> list[ContentCheckEventOut]:
        return [ContentCheckEventOut(**e) for e in await service.history(principal, check_id)]
