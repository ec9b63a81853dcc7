"""Dependencies every controller may ask for: the principal, settings and the injected clients."""

from __future__ import annotations

from typing import Annotated

from arq.connections import ArqRedis
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from redis.asyncio import Redis

from backend.access.addresses import client_address
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.clients.wechat import WeChatClient
from backend.settings import Settings


def provide_principal(request: Request) -> Principal:
    return request.user


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_redis(state: State) -> Redis:
    return state.redis


def provide_arq(state: State) -> ArqRedis:
    return state.arq


def provide_s3(state: State) -> S3Client:
    return state.s3


def provide_wechat(state: State) -> WeChatClient:
    return state.wechat


def client_ip(request: Request) -> str:
    """The caller's address; X-Forwarded-For is believed only from ZHIJIAN_TRUSTED_PROXIES."""
    settings: Settings = request.app.state.settings
    return client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"),
                          settings.TRUSTED_PROXIES)


DEPENDENCIES = {
    "principal": Provide(provide_principal, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "redis": Provide(provide_redis, sync_to_thread=False),
    "arq": Provide(provide_arq, sync_to_thread=False),
    "s3": Provide(provide_s3, sync_to_thread=False),
    "wechat": Provide(provide_wechat, sync_to_thread=False),
}

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]

# Explicit dependency markers (Litestar 3 drops inferred ones): use these in handler signatures.
PrincipalDep = NamedDependency[Principal]
SettingsDep = NamedDependency[Settings]
RedisDep = NamedDependency[Redis]
ArqDep = NamedDependency[ArqRedis]
S3Dep = NamedDependency[S3Client]
WeChatDep = NamedDependency[WeChatClient]
