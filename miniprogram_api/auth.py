"""/mp/v1/auth: WeChat sign-in (wx.login code), binding to a pre-created account, refresh, logout."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from backend.accounts import service as accounts_service
from backend.accounts.schemas import RefreshRequest, TokenPair, UserOut, WeChatBind, WeChatLogin
from backend.auth import service as auth_service
from backend.auth.principal import Role
from backend.deps import PrincipalDep, SettingsDep, WeChatDep


class MpAuthController(Controller):
    path = "/mp/v1/auth"
    tags = ["mp-auth"]

    @post("/login", exclude_from_auth=True, status_code=200, summary="Sign in with a wx.login code")
    async def login(self, data: JSONBody[WeChatLogin], settings: SettingsDep, wechat: WeChatDep) -> TokenPair:
        return await auth_service.login_wechat(settings, wechat, data.code)

    @post("/bind", exclude_from_auth=True, status_code=200, summary="Link WeChat to an account by bind code")
    async def bind(self, data: JSONBody[WeChatBind], settings: SettingsDep, wechat: WeChatDep) -> TokenPair:
        return await auth_service.bind_wechat(settings, wechat, data.code, data.bind_code)

    @post("/refresh", exclude_from_auth=True, status_code=200)
    async def refresh(self, data: JSONBody[RefreshRequest], settings: SettingsDep) -> TokenPair:
        return await auth_service.refresh(settings, data.refresh_token)

    @post("/logout", exclude_from_auth=True, status_code=204)
    async def logout(self, data: JSONBody[RefreshRequest]) -> None:
        await auth_service.logout(data.refresh_token)


class MpMeController(Controller):
    path = "/mp/v1/me"
    tags = ["mp-auth"]

    @get("/", summary="The signed-in mini-program user")
    async def me(self, principal: PrincipalDep) -> UserOut:
        principal.require_role(*Role)
        return await accounts_service.get_user(principal, principal.id)
