"""Redis connections: one asyncio client for the app and the ARQ pool for enqueueing jobs."""

from __future__ import annotations

import time

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


async def bulk_enqueue(
    arq: ArqRedis, jobs: list[tuple[str, str, tuple, float]], chunk: int = 2000, check_existing: bool = True
) -> int:
    """Queue many deferred ARQ jobs in pipelines: (job_id, function, args, run_at_epoch_s).

    ARQ's enqueue_job is one round trip with WATCH per job; rebuilding 100,000 timers after a Redis
    loss needs pipelines. Jobs whose id is already queued are left alone (same rule as enqueue_job).
    """
    from arq.constants import default_queue_name, job_key_prefix
    from arq.jobs import serialize_job

    added = 0
    now_ms = int(time.time() * 1000)
    for start in range(0, len(jobs), chunk):
        part = jobs[start : start + chunk]
        exists: list[int] = [0] * len(part)
        if check_existing:
            async with arq.pipeline(transaction=False) as pipe:
                for job_id, _, _, _ in part:
                    pipe.exists(job_key_prefix + job_id)
                exists = await pipe.execute()
        async with arq.pipeline(transaction=False) as pipe:
            for (job_id, function, args, run_at), present in zip(part, exists, strict=True):
                if present:
                    continue
                score = max(int(run_at * 1000), now_ms)
                ttl_ms = max(score - now_ms, 0) + 86_400_000
                payload = serialize_job(function, args, {}, None, now_ms, serializer=arq.job_serializer)
                pipe.psetex(job_key_prefix + job_id, ttl_ms, payload)
                pipe.zadd(arq.default_queue_name or default_queue_name, {job_id: score})
                added += 1
            await pipe.execute()
    return added
