"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.errors import TooManyRequests


async def hit(redis: Redis, key: str, limit: int, window_s: int) -> int:
    """Count one hit on ``key``; raise RATE_LIMITED once more than ``limit`` fall in the window."""
    full = f"rl:{key}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(full)
        pipe.expire(full, window_s, nx=True)
        count, _ = await pipe.execute()
    if count > limit:
        ttl = await redis.ttl(full)
        raise TooManyRequests("RATE_LIMITED", detail={"retry_after_s": max(ttl, 1)})
    return int(count)


async def hit_many(redis: Redis, limits: list[tuple[str, int, int]]) -> None:
    """Several (key, limit, window_s) counters in one round trip; raise on the first one exceeded."""
    async with redis.pipeline(transaction=True) as pipe:
        for key, _, window_s in limits:
            pipe.incr(f"rl:{key}")
            pipe.expire(f"rl:{key}", window_s, nx=True)
        results = await pipe.execute()
    for (key, limit, _), count in zip(limits, results[0::2], strict=True):
        if count > limit:
            raise TooManyRequests("RATE_LIMITED", detail={"retry_after_s": max(await redis.ttl(f"rl:{key}"), 1)})


async def reset(redis: Redis, key: str) -> None:
    await redis.delete(f"rl:{key}")
