"""A lean HTTP/1.1 keep-alive load generator (asyncio streams, pre-built requests) for the scan bench.

httpx costs about as much CPU per request as the API itself; on a small machine it, not the API,
would set the figure. This client only writes bytes and reads Content-Length bodies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench._support import percentile


def build(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
            "Content-Type: application/json", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(host: str, port: int, make: Callable[[int], bytes], seconds: float, concurrency: int
                      ) -> dict[str, float]:
    done: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal counter, errors
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            counter += 1
            raw = make(counter)
            started = time.perf_counter()
            if await _request(reader, writer, raw) >= 300:
                errors += 1
            done.append(time.perf_counter() - started)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"rps": len(done) / elapsed, "p50_ms": percentile(done, 50) * 1000, "p99_ms": percentile(done, 99) * 1000,
            "errors": errors, "n": len(done)}


async def fixed_rate(host: str, port: int, make: Callable[[int], bytes], rate: float, seconds: float,
                     connections: int = 64) -> dict[str, float]:
    """Open loop: request i is due at start + i/rate; latency counts from the due time (queueing included)."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.05

    async def feeder() -> None:
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            queue.put_nowait(i)
        for _ in range(connections):
            queue.put_nowait(-1)

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        while (i := await queue.get()) >= 0:
            if await _request(reader, writer, make(i)) >= 300:
                errors += 1
            latencies.append(time.perf_counter() - (start + i / rate))
        writer.close()

    await asyncio.gather(feeder(), *(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return {"rps": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "errors": errors, "n": len(latencies)}
