"""Redis connections: one asyncio client for the app and the ARQ pool for enqueueing jobs."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import Redis

from backend.settings import Settings


def arq_redis_settings(settings: Settings) -> RedisSettings:
    """ARQ's connection settings from ZHIJIAN_REDIS_URL."""
    return RedisSettings.from_dsn(settings.REDIS_URL)


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(settings.REDIS_URL, decode_responses=False, socket_timeout=5, socket_connect_timeout=3)


async def create_arq_pool(settings: Settings) -> ArqRedis:
    return await create_pool(arq_redis_settings(settings))
