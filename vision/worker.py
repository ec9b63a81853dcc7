"""The vision worker (python -m vision.worker).

Until the detector lands it checks its connections (Redis, S3), reports a heartbeat and waits;
it stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import time

import structlog

from backend.clients.redis import create_redis
from backend.clients.s3 import S3Client
from backend.logging import configure_logging
from backend.settings import Settings, get_settings

log = structlog.get_logger("zhijian.vision")
HEARTBEAT_KEY = "zhijian:heartbeat:vision"


async def run(settings: Settings, stop: asyncio.Event, interval_s: float = 30.0) -> None:
    redis = create_redis(settings)
    s3 = S3Client(settings)
    try:
        await redis.ping()
        await s3.ensure_buckets()
        log.info("vision_worker_started", cameras=0)
        while not stop.is_set():
            await redis.set(HEARTBEAT_KEY, str(time.time()), ex=300)
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
    finally:
        await redis.aclose()
        log.info("vision_worker_stopped")


def main() -> int:
    settings = get_settings()
    configure_logging(settings)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
