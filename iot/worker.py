"""The MQTT ingest and alarm worker (监测接入): telemetry → rules → readings, alarms, pushes.

Topic ``zhijian/v1/{project_id}/{sensor_id}/telemetry``, QoS 1, on the shared subscription
``$share/{MQTT_SHARE_GROUP}/…`` so several workers split the load. The session is persistent
(clean_start false, a session expiry interval, a stable client id), so messages published while the
worker is down wait in the broker. Each message is acknowledged (paho manual ack) only after its
batch is committed to PostgreSQL: a killed worker loses nothing, and a redelivered reading is
recognised by its (sensor, ts) and dead-lettered as a duplicate instead of counted twice.
Rule state lives in PostgreSQL and is locked per batch, so a restart resumes it exactly; between
batches the worker keeps it in memory (ingest.SensorCache), checked against the row on every batch.
Alarm pushes are written in the batch's transaction (alarms.tell → notify() / escalation → outbox rows),
so nothing is sent after a commit and nothing is left for a sweep: the outbox dispatchers deliver them.
paho runs on the asyncio loop (clients.mqtt.AsyncioMqtt), not on a thread of its own: receiving,
evaluating and acknowledging share one thread, and the socket is read 64 KiB at a time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from uuid import UUID

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from backend import db
from backend.clients.mqtt import AsyncioMqtt, ack_many, make_client, mqtt_params
from backend.logging import configure_logging
from backend.runtime import tune_gc
from backend.monitoring.ingest import (
    Malformed,
    Message,
    SensorCache,
    check_silence,
    parse_topic,
    process_batch,
)
from backend.settings import Settings, get_settings

log = structlog.get_logger("zhijian.iot")

TELEMETRY_TOPIC = "zhijian/v1/+/+/telemetry"
RECEIVE_MAXIMUM = 10_000  # unacknowledged QoS 1 messages the broker may have in flight to us


def shared_topic(group: str, topic: str = TELEMETRY_TOPIC) -> str:
    """MQTT 5 shared subscription so several workers split the load."""
    return f"$share/{group}/{topic}"


@dataclass(frozen=True, slots=True)
class _Inbound:
    message: Message
    mid: int
    qos: int


class IotWorker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.inbox: deque[_Inbound] = deque()
        self.received = 0
        self.stored = 0
        self.dead = 0
        client_id = settings.MQTT_WORKER_CLIENT_ID or f"{settings.MQTT_CLIENT_PREFIX}-iot-{socket.gethostname()}"
        self.client = make_client(settings, client_id, clean_start=False, manual_ack=True, buffered=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.running: set[asyncio.Task] = set()  # batches in flight
        self.busy: dict[UUID, asyncio.Task] = {}  # sensor → the batch in flight that holds it
        self.failed: BaseException | None = None

    # --- paho's callbacks (on the event loop: AsyncioMqtt drives the client, no network thread) --------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("mqtt_connect_refused", reason=str(reason_code))
            return
        topic = shared_topic(self.settings.MQTT_SHARE_GROUP)
        client.subscribe(topic, qos=1)
        log.info("mqtt_connected", subscribed=topic, session_present=bool(flags.session_present))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if not self.stop_event.is_set():
            log.warning("mqtt_disconnected", reason=str(reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        self.received += 1
        self.inbox.append(_Inbound(Message(message.topic, message.payload), message.mid, message.qos))

    # --- the event loop ----------------------------------------------------------------------------

    async def _fill(self) -> list[_Inbound]:
        """Wait up to MONITORING_BATCH_WAIT_S for MONITORING_BATCH_MAX messages or MONITORING_BATCH_BYTES
        of payload, whichever comes first, and take them."""
        settings = self.settings
        limit, room = settings.MONITORING_BATCH_MAX, settings.MONITORING_BATCH_BYTES
        deadline = time.monotonic() + settings.MONITORING_BATCH_WAIT_S
        batch: list[_Inbound] = []
        inbox = self.inbox
        while True:
            while inbox and len(batch) < limit and room > 0:
                item = inbox.popleft()
                room -= len(item.message.payload)
                batch.append(item)
            if len(batch) >= limit or room <= 0 or time.monotonic() >= deadline:
                return batch
            await asyncio.sleep(0.005)

    def _ack(self, batch: list[_Inbound]) -> None:
        try:
            ack_many(self.client, [item.mid for item in batch if item.qos == 1])
            for item in batch:
                if item.qos == 2:
                    self.client.ack(item.mid, item.qos)
        except Exception as exc:  # noqa: BLE001 - disconnected: the broker redelivers, we dedup
            log.warning("mqtt_ack_failed", error=str(exc))

    async def _process(self, batch: list[_Inbound], cache: SensorCache) -> None:
        messages = [b.message for b in batch]
        for attempt in range(3):
            try:
                result = await process_batch(messages, cache)
                break
            except Exception as exc:  # noqa: BLE001 - never crash: retry, then isolate the bad message
                log.error("ingest_batch_failed", error=repr(exc), attempt=attempt, messages=len(batch))
                await asyncio.sleep(0.5 * (attempt + 1))
        else:
            if len(batch) > 1:
                for item in batch:
                    await self._process([item], cache)
                return
            await self._dead_letter_internal(batch[0].message)
            self._ack(batch)
            return
        self._ack(batch)
        self.stored += result.stored
        self.dead += result.dead

    async def _dispatch(self, batch: list[_Inbound], cache: SensorCache) -> None:
        """Start processing ``batch`` beside the batches already in flight (at most MONITORING_PIPELINE):
        one batch's database round trips overlap the next one's evaluation. A batch that shares a sensor
        with one in flight waits for it, so each sensor's readings are still evaluated in order."""
        sensors: set[UUID] = set()
        for item in batch:
            try:
                sensors.add(parse_topic(item.message.topic)[1])
            except Malformed:
                pass
        blockers = {self.busy[s] for s in sensors if s in self.busy}
        if blockers:
            await asyncio.wait(blockers)
        while len(self.running) >= self.settings.MONITORING_PIPELINE:
            await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self._process(batch, cache))
        self.running.add(task)
        for s in sensors:
            self.busy[s] = task

        def done(t: asyncio.Task) -> None:
            self.running.discard(t)
            for s in sensors:
                if self.busy.get(s) is t:
                    del self.busy[s]
            if not t.cancelled() and t.exception() is not None:
                # As when batches ran one by one: the worker stops (unacknowledged messages are redelivered).
                log.error("ingest_task_failed", error=repr(t.exception()))
                self.failed = t.exception()

        task.add_done_callback(done)

    async def _dead_letter_internal(self, message: Message) -> None:
        from backend.monitoring.tables import DeadLetter

        try:
            await DeadLetter.insert(DeadLetter(topic=message.topic[:200], reason="internal_error",
                                               detail="could not be processed", payload=message.payload[:500].decode(
                                                   "utf-8", "replace")))
        except Exception as exc:  # noqa: BLE001 - the database is down: keep the message unacknowledged
            log.error("dead_letter_failed", error=repr(exc))
            raise

    async def run_async(self) -> int:
        settings = self.settings
        await db.open_pool(settings)
        cache = SensorCache(settings.MONITORING_SENSOR_REFRESH_S, clock_skew_s=settings.MONITORING_CLOCK_SKEW_S,
                            settings=settings)
        thresholds = tune_gc(settings)  # the collector was a third of this process's time (backend/runtime.py)
        params = mqtt_params(settings)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = settings.MQTT_SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_timeout = 5.0
        self.client.connect_async(params.host, params.port, keepalive=30, clean_start=False, properties=props)
        bridge = AsyncioMqtt(self.client, asyncio.get_running_loop(), min_delay=1.0, max_delay=10.0)
        mqtt_task = asyncio.create_task(bridge.run(on_error=lambda exc: log.warning("mqtt_connect_failed", error=str(exc))))
        log.info("iot_worker_started", broker=f"{params.host}:{params.port}", pid=os.getpid(), gc_thresholds=thresholds)
        next_silence = time.monotonic() + settings.MONITORING_SILENCE_CHECK_S
        next_alive = time.monotonic() + 30
        try:
            while not self.stop_event.is_set():
                if self.failed is not None:
                    raise self.failed
                if not self.inbox:
                    await asyncio.sleep(0.002)
                else:
                    await self._dispatch(await self._fill(), cache)
                now = time.monotonic()
                if now >= next_silence:
                    next_silence = now + settings.MONITORING_SILENCE_CHECK_S
                    try:
                        await check_silence(cache)  # its alarms are told in its own transaction
                    except Exception as exc:  # noqa: BLE001 - never crash; the next tick retries
                        log.error("silence_check_failed", error=repr(exc))
                if now >= next_alive:
                    next_alive = now + 30
                    log.info("iot_worker_alive", received=self.received, stored=self.stored, dead=self.dead,
                             rebuilt=cache.rebuilt)
            # Drain what was already received before leaving (acked only if committed).
            while self.inbox:
                await self._dispatch(await self._fill(), cache)
            if self.running:
                await asyncio.wait(self.running)
        finally:
            bridge.close()
            mqtt_task.cancel()
            await db.close_pool()
        log.info("iot_worker_stopped", received=self.received, stored=self.stored, dead=self.dead,
                 rebuilt=cache.rebuilt)
        return 0

    def run(self) -> int:
        return asyncio.run(self.run_async())

    def stop(self, *_: object) -> None:
        self.stop_event.set()


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    worker = IotWorker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    return worker.run()


if __name__ == "__main__":
    raise SystemExit(main())
