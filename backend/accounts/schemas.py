"""Request and response types of accounts: users, tokens, bind codes, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from backend.auth.principal import Role
from backend.schema import Schema

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Phone = Annotated[str, msgspec.Meta(max_length=20, pattern=r"^[0-9+\- ]*$")]
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+:[a-z0-9_*]+$")]


class UserOut(Schema):
    id: UUID
    role: Role
    display_name: str
    username: str | None
    phone_masked: str
    district_adcode: int | None
    enterprise_id: UUID | None
    wechat_bound: bool
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(Schema):
    role: Role
    display_name: DisplayName
    username: Username | None = None
    password: Password | None = None
    phone: Phone = ""
    district_adcode: int | None = None
    enterprise_id: UUID | None = None


class UserUpdate(Schema):
    display_name: DisplayName | None = None
    phone: Phone | None = None
    is_active: bool | None = None
    password: Password | None = None


class PasswordLogin(Schema):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Password


class WeChatLogin(Schema):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class WeChatBind(Schema):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    bind_code: Annotated[str, msgspec.Meta(min_length=6, max_length=64)]


class RefreshRequest(Schema):
    refresh_token: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]


class TokenPair(Schema):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: UserOut


class BindCodeOut(Schema):
    bind_code: str
    expires_at: datetime


class ApiKeyCreate(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    department: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=20)]


class ApiKeyOut(Schema):
    id: UUID
    name: str
    department: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(Schema):
    key: str
    api_key: ApiKeyOut


class WhoAmI(Schema):
    kind: str
    id: UUID
    role: str | None
    district_adcode: int | None
    scopes: list[str]
    name: str


class Page(Schema):
    total: int
    limit: int
    offset: int
