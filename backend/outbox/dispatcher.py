"""The outbox's delivery loop (run inside every ARQ worker): claim due rows under a lease, hand them to handlers.

A worker claims at most ``OUTBOX_BATCH`` rows at a time (``FOR UPDATE SKIP LOCKED``, so workers
never share a row) with a lease of ``OUTBOX_LEASE_S`` that it renews every third of that while it
works. A handler records each row's outcome as soon as it knows it; the row is then closed. If the
worker dies (SIGKILL) its leases run out and the next worker claims the rows again: rows it never
tried are tried, and only a call that had reached the outside but whose outcome was not yet recorded
is repeated. Nothing is closed without having been delivered or refused for good.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import structlog

from backend.db import utcnow
from backend.outbox.service import CHANNEL
from backend.outbox.tables import OutboxMessage
from backend.settings import Settings

log = structlog.get_logger("zhijian.outbox")


@dataclass(frozen=True, slots=True)
class Message:
    id: UUID
    kind: str
    ref: UUID | None
    payload: dict[str, Any]
    attempts: int  # claims so far, this one included


@dataclass(frozen=True, slots=True)
class Retry:
    """Not delivered yet: claim the row again at ``at``."""

    at: datetime
    reason: str = ""


# A handler takes a batch of one kind and answers, per message id, None (done) or Retry.
Handler = Callable[[dict[str, Any], list[Message]], Awaitable[dict[UUID, Retry | None]]]
Task = Callable[..., Awaitable[Any]]

HANDLERS: dict[str, Handler] = {}
TASKS: dict[str, Task] = {}


def register(kind: str, handler: Handler) -> None:
    """The handler of one kind of row (wechat, webhook); the worker registers them at start-up."""
    HANDLERS[kind] = handler


def register_task(name: str, fn: Task) -> None:
    """A task (``fn(ctx, *args)``, idempotent) that ``enqueue_task(name, args)`` rows run."""
    TASKS[name] = fn


def backoff(settings: Settings, attempt: int) -> timedelta:
    return timedelta(seconds=min(settings.NOTIFY_RETRY_BASE_S * (2 ** max(attempt - 1, 0)), 300.0))


async def _run_tasks(ctx: dict[str, Any], messages: list[Message]) -> dict[UUID, Retry | None]:
    result: dict[UUID, Retry | None] = {}
    for msg in messages:
        name = msg.payload.get("name", "")
        fn = TASKS.get(name)
        if fn is None:
            result[msg.id] = Retry(utcnow() + backoff(ctx["settings"], msg.attempts), f"no task registered as {name!r}")
            continue
        try:
            await fn(ctx, *msg.payload.get("args", []))
            result[msg.id] = None
        except Exception as exc:  # noqa: BLE001 - one failing task must not hold back the others
            log.exception("outbox_task_failed", task=name, message=str(msg.id))
            result[msg.id] = Retry(utcnow() + backoff(ctx["settings"], msg.attempts), f"{type(exc).__name__}: {exc}")
    return result


register("task", _run_tasks)


class Dispatcher:
    """One per worker process: claims, leases, renews, completes."""

    def __init__(self, ctx: dict[str, Any], settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"[:64]
        self.inflight: set[UUID] = set()
        self.wake = asyncio.Event()
        self.slots = asyncio.Semaphore(settings.OUTBOX_BATCHES)
        self.batches: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._listener: asyncpg.Connection | None = None

    # --- database ---------------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Message]:
        rows = await OutboxMessage.raw(
            "UPDATE outbox o SET lease_until = now() + make_interval(secs => {}), lease_owner = {},"
            " attempts = o.attempts + 1"
            " FROM (SELECT id FROM outbox WHERE status = 'pending' AND available_at <= now()"
            "  AND (lease_until IS NULL OR lease_until < now())"
            "  ORDER BY available_at LIMIT {} FOR UPDATE SKIP LOCKED) c"
            " WHERE o.id = c.id RETURNING o.id, o.kind, o.ref, o.payload, o.attempts",
            self.settings.OUTBOX_LEASE_S, self.owner, limit,
        )
        return [
            Message(r["id"], r["kind"], r["ref"], r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"]),
                    r["attempts"])
            for r in rows
        ]

    async def renew(self) -> int:
        ids = list(self.inflight)
        if not ids:
            return 0
        rows = await OutboxMessage.raw(
            "UPDATE outbox SET lease_until = now() + make_interval(secs => {})"
            " WHERE id = ANY({}::uuid[]) AND lease_owner = {} AND status = 'pending' RETURNING id",
            self.settings.OUTBOX_LEASE_S, ids, self.owner,
        )
        return len(rows)

    async def complete(self, outcomes: dict[UUID, tuple[str, datetime | None, str]]) -> None:
        """Close (done | dead) or reschedule (pending at a time) the rows this worker still holds."""
        if not outcomes:
            return
        ids = list(outcomes)
        await OutboxMessage.raw(
            "UPDATE outbox o SET status = t.s, available_at = COALESCE(t.a, o.available_at), lease_until = NULL,"
            " lease_owner = '', last_error = t.e, done_at = CASE WHEN t.s = 'pending' THEN NULL ELSE now() END"
            " FROM unnest({}::uuid[], {}::text[], {}::timestamptz[], {}::text[]) AS t(i, s, a, e)"
            " WHERE o.id = t.i AND o.lease_owner = {}",
            ids, [outcomes[i][0] for i in ids], [outcomes[i][1] for i in ids], [outcomes[i][2][:300] for i in ids],
            self.owner,
        )

    # --- work -------------------------------------------------------------------------------------

    async def work(self, batch: list[Message]) -> None:
        """Run a claimed batch through its handlers and close what they report."""
        by_kind: dict[str, list[Message]] = {}
        for msg in batch:
            by_kind.setdefault(msg.kind, []).append(msg)
        self.inflight.update(m.id for m in batch)
        try:
            results = await asyncio.gather(*(self._handle(kind, msgs) for kind, msgs in by_kind.items()))
            outcomes: dict[UUID, tuple[str, datetime | None, str]] = {}
            for part in results:
                outcomes.update(part)
            await self.complete(outcomes)
        finally:
            self.inflight.difference_update(m.id for m in batch)

    async def _handle(self, kind: str, msgs: list[Message]) -> dict[UUID, tuple[str, datetime | None, str]]:
        handler = HANDLERS.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler registered for outbox kind {kind!r}")
            answers = await handler(self.ctx, msgs)
        except Exception as exc:  # noqa: BLE001 - the rows are retried, then marked dead
            log.exception("outbox_handler_failed", kind=kind, count=len(msgs))
            answers = {m.id: Retry(utcnow() + backoff(self.settings, m.attempts), f"{type(exc).__name__}: {exc}") for m in msgs}
        out: dict[UUID, tuple[str, datetime | None, str]] = {}
        for m in msgs:
            answer = answers.get(m.id, Retry(utcnow() + backoff(self.settings, m.attempts), "handler gave no answer"))
            if answer is None:
                out[m.id] = ("done", None, "")
            elif m.attempts >= self.settings.OUTBOX_MAX_ATTEMPTS:
                out[m.id] = ("dead", None, answer.reason)
            else:
                out[m.id] = ("pending", answer.at, answer.reason)
        return out

    async def drain(self) -> int:
        """Deliver everything due now in this process, batch by batch (tests, the bench, one-shot runs)."""
        total = 0
        while batch := await self.claim(self.settings.OUTBOX_BATCH):
            await self.work(batch)
            total += len(batch)
        return total

    # --- the loop ---------------------------------------------------------------------------------

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(self.settings.DATABASE_URL)
            await self._listener.add_listener(CHANNEL, lambda *_: self.wake.set())
        except Exception as exc:  # noqa: BLE001 - polling alone still delivers, only later
            log.warning("outbox_listen_failed", error=str(exc))
            self._listener = None

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.OUTBOX_LEASE_S / 3)
            try:
                await self.renew()
            except Exception as exc:  # noqa: BLE001 - try again at the next tick, well within the lease
                log.warning("outbox_renew_failed", error=str(exc))

    async def _batch_done(self, batch: list[Message]) -> None:
        try:
            await self.work(batch)
        except Exception:  # noqa: BLE001 - the leases run out and another claim retries the rows
            log.exception("outbox_batch_failed", count=len(batch))
        finally:
            self.slots.release()
            self.wake.set()

    async def run(self) -> None:
        """Claim and deliver until stopped; wakes on a commit's pg_notify or every OUTBOX_POLL_S."""
        await self._listen()
        renewer = asyncio.create_task(self._renew_loop())
        log.info("outbox_dispatcher_started", owner=self.owner)
        try:
            while not self.stopping:
                await self.slots.acquire()
                self.wake.clear()
                try:
                    batch = await self.claim(self.settings.OUTBOX_BATCH)
                except Exception as exc:  # noqa: BLE001 - the database may be restarting; poll again
                    log.warning("outbox_claim_failed", error=str(exc))
                    batch = []
                if not batch:
                    self.slots.release()
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=self.settings.OUTBOX_POLL_S)
                    except TimeoutError:
                        pass
                    continue
                task = asyncio.create_task(self._batch_done(batch))
                self.batches.add(task)
                task.add_done_callback(self.batches.discard)
        finally:
            renewer.cancel()
            if self._listener is not None:
                await self._listener.close()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; let batches in flight finish (their rows would be retried anyway)."""
        self.stopping = True
        self.wake.set()
        if self.batches:
            await asyncio.wait(set(self.batches), timeout=grace_s)
