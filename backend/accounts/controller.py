"""Regulator API for accounts: staff sign-in, users, bind codes, department API keys."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.accounts import service
from backend.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    BindCodeOut,
    Page,
    PasswordLogin,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserOut,
    UserUpdate,
    WhoAmI,
)
from backend.auth import service as auth_service
from backend.auth.guards import roles
from backend.auth.principal import Role
from backend.deps import Limit, Offset, PrincipalDep, RedisDep, SettingsDep, client_ip


class UserPage(Page):
    items: list[UserOut]


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", exclude_from_auth=True, status_code=200, summary="Staff sign-in by username and password")
    async def login(
        self, request: Request, data: JSONBody[PasswordLogin], settings: SettingsDep, redis: RedisDep
    ) -> TokenPair:
        return await auth_service.login_password(settings, redis, data.username, data.password, client_ip(request))

    @post("/refresh", exclude_from_auth=True, status_code=200, summary="Rotate a refresh token")
    async def refresh(self, data: JSONBody[RefreshRequest], settings: SettingsDep) -> TokenPair:
        return await auth_service.refresh(settings, data.refresh_token)

    @post("/logout", exclude_from_auth=True, status_code=204, summary="Revoke a refresh token's login")
    async def logout(self, data: JSONBody[RefreshRequest]) -> None:
        await auth_service.logout(data.refresh_token)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["auth"]

    @get("/", summary="Who is asking (user or API key)")
    async def whoami(self, principal: PrincipalDep) -> WhoAmI:
        return WhoAmI(
            kind=principal.kind,
            id=principal.id,
            role=principal.role.value if principal.role else None,
            district_adcode=principal.district_id,
            scopes=sorted(principal.scopes),
            name=principal.name,
        )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    guards = [roles(Role.REGULATOR_ADMIN)]

    @post("/", summary="Create a staff, supervisor or project-lead account")
    async def create(self, data: JSONBody[UserCreate], principal: PrincipalDep) -> UserOut:
        return await service.create_user(principal, data)

    @get("/", summary="Users the caller manages")
    async def list_users(
        self,
        principal: PrincipalDep,
        role: FromQuery[Role | None] = None,
        district_adcode: FromQuery[int | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> UserPage:
        total, items = await service.list_users(
            principal, role=role, district=district_adcode, limit=limit, offset=offset
        )
        return UserPage(total=total, limit=limit, offset=offset, items=items)

    @get("/{user_id:uuid}")
    async def get_user(self, user_id: FromPath[UUID], principal: PrincipalDep) -> UserOut:
        return await service.get_user(principal, user_id)

    @patch("/{user_id:uuid}", summary="Rename, disable, or reset a password (revokes the user's logins)")
    async def update(self, user_id: FromPath[UUID], data: JSONBody[UserUpdate], principal: PrincipalDep) -> UserOut:
        return await service.update_user(principal, user_id, data)

    @post("/{user_id:uuid}/bind-code", summary="One-time code to link the user's WeChat in the mini-program")
    async def bind_code(self, user_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep) -> BindCodeOut:
        return await service.issue_bind_code(principal, user_id, settings.BIND_CODE_TTL_S)


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api-keys"]
    guards = [roles(Role.REGULATOR_ADMIN)]

    @post("/", summary="Issue a scoped key for another department (the secret is shown once)")
    async def create(self, data: JSONBody[ApiKeyCreate], principal: PrincipalDep) -> ApiKeyCreated:
        return await service.create_api_key(principal, data)

    @get("/")
    async def list_keys(self, principal: PrincipalDep) -> list[ApiKeyOut]:
        return await service.list_api_keys(principal)

    @post("/{key_id:uuid}/revoke", status_code=200)
    async def revoke(self, key_id: FromPath[UUID], principal: PrincipalDep) -> ApiKeyOut:
        return await service.revoke_api_key(principal, key_id)
