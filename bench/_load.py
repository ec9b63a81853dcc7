"""A small closed-loop / fixed-rate HTTP load generator (httpx, one process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench._support import percentile


async def closed_loop(url: str, make: Callable[[int], dict[str, Any]], seconds: float, concurrency: int) -> dict[str, float]:
    """As fast as possible with `concurrency` requests in flight."""
    done: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal counter, errors
            while time.perf_counter() < deadline:
                counter += 1
                req = make(counter)
                started = time.perf_counter()
                resp = await client.post(url, **req)
                if resp.status_code >= 300:
                    errors += 1
                done.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"rps": len(done) / elapsed, "p50_ms": percentile(done, 50) * 1000, "p99_ms": percentile(done, 99) * 1000,
            "errors": errors, "n": len(done)}


async def fixed_rate(url: str, make: Callable[[int], dict[str, Any]], rate: float, seconds: float) -> dict[str, float]:
    """Open loop: one request every 1/rate s regardless of answers; latency from scheduled send time."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=30) as client:
        start = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            scheduled = start + i / rate
            resp = await client.post(url, **make(i))
            if resp.status_code >= 300:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    return {"rps": total / elapsed, "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "errors": errors, "n": total}
