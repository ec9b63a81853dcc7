"""/mp/v1/auth: WeChat sign-in (wx.login code), binding to a pre-created account, refresh, logout."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Body

from backend.accounts import service as accounts_service
from backend.accounts.schemas import RefreshRequest, TokenPair, UserOut, WeChatBind, WeChatLogin
from backend.auth import service as auth_service
from backend.auth.principal import Principal, Role
from backend.clients.wechat import WeChatClient
from backend.settings import Settings


class MpAuthController(Controller):
    path = "/mp/v1/auth"
    tags = ["mp-auth"]

    @post("/login", exclude_from_auth=True, status_code=200, summary="Sign in with a wx.login code")
    async def login(self, data: Annotated[WeChatLogin, Body()], settings: Settings, wechat: WeChatClient) -> TokenPair:
        return await auth_service.login_wechat(settings, wechat, data.code)

    @post("/bind", exclude_from_auth=True, status_code=200, summary="Link WeChat to an account by bind code")
    async def bind(self, data: Annotated[WeChatBind, Body()], settings: Settings, wechat: WeChatClient) -> TokenPair:
        return await auth_service.bind_wechat(settings, wechat, data.code, data.bind_code)

    @post("/refresh", exclude_from_auth=True, status_code=200)
    async def refresh(self, data: Annotated[RefreshRequest, Body()], settings: Settings) -> TokenPair:
        return await auth_service.refresh(settings, data.refresh_token)

    @post("/logout", exclude_from_auth=True, status_code=204)
    async def logout(self, data: Annotated[RefreshRequest, Body()]) -> None:
        await auth_service.logout(data.refresh_token)


class MpMeController(Controller):
    path = "/mp/v1/me"
    tags = ["mp-auth"]

    @get("/", summary="The signed-in mini-program user")
    async def me(self, principal: Principal) -> UserOut:
        principal.require_role(*Role)
        return await accounts_service.get_user(principal, principal.id)
