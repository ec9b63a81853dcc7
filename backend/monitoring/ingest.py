"""Telemetry ingest (遥测接入): parse, evaluate and store a batch of MQTT messages in one transaction.

Called by the iot worker with whatever arrived (up to MONITORING_BATCH_MAX readings). Within one
transaction it locks the sensors' rule-state rows (so several workers on the shared subscription never
evaluate one sensor at once), evaluates every reading in arrival order, writes readings (unique on
(sensor, ts): a redelivery is never stored twice), rule states, alarm changes and dead letters. The
caller acknowledges the MQTT messages only after this returns, then sends the pending notifications.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog

from backend.db import utcnow
from backend.monitoring import alarms
from backend.monitoring.alarms import SensorInfo
from backend.monitoring.rules import Duplicate, Level, OutOfOrder, RuleState, Thresholds, evaluate, is_silent
from backend.monitoring.tables import Sensor

log = structlog.get_logger("zhijian.monitoring.ingest")

MAX_READINGS_PER_MESSAGE = 10_000
PAYLOAD_KEEP = 500  # characters of a refused payload kept in its dead letter
_THRESHOLD_FIELDS = {f.name for f in fields(Thresholds)}


class _Reading(msgspec.Struct, forbid_unknown_fields=True):
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    value: float


class _Telemetry(msgspec.Struct, forbid_unknown_fields=True):
    ts: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    value: float | None = None
    readings: list[_Reading] | None = None


_decoder = msgspec.json.Decoder(_Telemetry)
_json_encode = msgspec.json.Encoder().encode  # rule state to jsonb text, once per sensor per batch
_json_decode = msgspec.json.Decoder().decode


class Malformed(ValueError):
    """The topic or payload does not follow the telemetry contract."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    received_at: float = field(default_factory=time.time)


@dataclass(slots=True)
class BatchResult:
    stored: int = 0
    dead: int = 0
    events: list[UUID] = field(default_factory=list)
    dead_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@lru_cache(maxsize=65_536)  # topics repeat (one per sensor): parse each once; refusals raise and are not cached
def parse_topic(topic: str) -> tuple[UUID, UUID]:
    """zhijian/v1/{project_id}/{sensor_id}/telemetry → (project, sensor)."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "zhijian" or parts[1] != "v1" or parts[4] != "telemetry":
        raise Malformed("topic is not zhijian/v1/{project_id}/{sensor_id}/telemetry")
    try:
        return UUID(parts[2]), UUID(parts[3])
    except ValueError:
        raise Malformed("project_id and sensor_id must be UUIDs") from None


def parse_payload(payload: bytes) -> list[tuple[datetime, float]]:
    """{"ts", "value"} or {"readings": [{"ts", "value"}, …]}; ts ISO 8601 with a zone, value a finite number."""
    try:
        msg = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise Malformed(str(exc)[:200]) from None
    if msg.readings is not None:
        if msg.ts is not None or msg.value is not None:
            raise Malformed("either ts/value or readings, not both")
        if not msg.readings or len(msg.readings) > MAX_READINGS_PER_MESSAGE:
            raise Malformed(f"readings must hold 1..{MAX_READINGS_PER_MESSAGE} items")
        out = [(r.ts, r.value) for r in msg.readings]
    elif msg.ts is not None and msg.value is not None:
        out = [(msg.ts, msg.value)]
    else:
        raise Malformed("ts and value are required")
    if any(not math.isfinite(v) for _, v in out):
        raise Malformed("value must be a finite number")
    return out


def thresholds_of(data: dict[str, Any]) -> Thresholds:
    return Thresholds(**{k: v for k, v in data.items() if k in _THRESHOLD_FIELDS})


class SensorCache:
    """Active sensors with their thresholds, refreshed periodically; unknown ids are looked up once per batch."""

    def __init__(self, refresh_s: float) -> None:
        self.refresh_s = refresh_s
        self.sensors: dict[UUID, SensorInfo] = {}
        self.thresholds: dict[UUID, Thresholds] = {}
        self.loaded_at = 0.0

    async def _load(self, ids: list[UUID] | None) -> None:
        where = "s.status = 'active'" + (" AND s.id = ANY({}::uuid[])" if ids is not None else "")
        rows = await Sensor.raw(
            "SELECT s.id, s.point, p.code AS point_code, s.project, pr.name AS project_name, pr.district, p.work,"
            " s.metric, s.thresholds FROM monitoring_sensors s JOIN monitoring_points p ON p.id = s.point"
            f" JOIN projects pr ON pr.id = s.project WHERE {where}",
            *([ids] if ids is not None else []),
        )
        for r in rows:
            th = r["thresholds"] if isinstance(r["thresholds"], dict) else json.loads(r["thresholds"])
            info = SensorInfo(id=r["id"], point_id=r["point"], point_code=r["point_code"], project_id=r["project"],
                              project_name=r["project_name"], district=r["district"], work_id=r["work"],
                              metric=r["metric"], thresholds=th)
            self.sensors[info.id] = info
            self.thresholds[info.id] = thresholds_of(th)

    async def get_many(self, ids: set[UUID]) -> dict[UUID, SensorInfo]:
        now = time.monotonic()
        if now - self.loaded_at > self.refresh_s:
            self.sensors, self.thresholds = {}, {}
            await self._load(None)
            self.loaded_at = now
        missing = [i for i in ids if i not in self.sensors]
        if missing:
            await self._load(missing)
        return {i: self.sensors[i] for i in ids if i in self.sensors}


async def process_batch(messages: list[Message], cache: SensorCache) -> BatchResult:
    """Evaluate and store one batch in one transaction; returns the alarm events to notify after commit."""
    result = BatchResult()
    dead: list[tuple[str, UUID | None, str, str, str]] = []  # topic, sensor, reason, detail, payload
    parsed: list[tuple[Message, UUID, UUID, list[tuple[datetime, float]], datetime]] = []
    for m in messages:
        try:
            project_id, sensor_id = parse_topic(m.topic)
            parsed.append((m, project_id, sensor_id, parse_payload(m.payload), datetime.fromtimestamp(m.received_at, UTC)))
        except Malformed as exc:
            dead.append((m.topic[:200], None, "malformed", str(exc), m.payload[:PAYLOAD_KEEP].decode("utf-8", "replace")))
    known = await cache.get_many({p[2] for p in parsed})
    per_sensor: dict[UUID, list[tuple[datetime, float, Message, datetime]]] = defaultdict(list)
    for m, project_id, sensor_id, readings, received in parsed:
        info = known.get(sensor_id)
        if info is None:
            dead.append((m.topic, sensor_id, "unknown_sensor", "no active sensor with this id", _text(m.payload)))
            continue
        if info.project_id != project_id:
            dead.append((m.topic, sensor_id, "topic_mismatch", "the sensor belongs to another project", _text(m.payload)))
            continue
        per_sensor[sensor_id].extend((ts, v, m, received) for ts, v in readings)

    db = Sensor._meta.db
    async with db.transaction():
        states: dict[UUID, tuple[RuleState, int]] = {}
        if per_sensor:
            rows = await Sensor.raw(
                "SELECT sensor, state, silent FROM monitoring_rule_states WHERE sensor = ANY({}::uuid[])"
                " ORDER BY sensor FOR UPDATE", sorted(per_sensor),
            )
            for r in rows:
                st = r["state"] if isinstance(r["state"], dict) else _json_decode(r["state"])
                states[r["sensor"]] = (RuleState.from_json(st), r["silent"])
        r_sensor: list[UUID] = []
        r_ts: list[datetime] = []
        r_value: list[float] = []
        r_received: list[datetime] = []
        late: list[tuple[UUID, datetime, float, Message]] = []
        s_sensor: list[UUID] = []
        s_state: list[str] = []
        s_last: list[datetime] = []
        changes: list[tuple[SensorInfo, str, int, int, dict[str, Any]]] = []
        for sensor_id, readings in per_sensor.items():
            info = known[sensor_id]
            state, silent = states.get(sensor_id, (RuleState(), 0))
            th = cache.thresholds[sensor_id]
            accepted = 0
            for ts, value, m, received in readings:
                try:
                    ev = evaluate(state, th, ts.timestamp(), value)
                except Duplicate:
                    dead.append((m.topic, sensor_id, "duplicate", f"reading at {ts.isoformat()} already stored",
                                 json.dumps({"ts": ts.isoformat(), "value": value})))
                    continue
                except OutOfOrder:
                    late.append((sensor_id, ts, value, m))
                    continue
                state = ev.state
                accepted += 1
                r_sensor.append(sensor_id); r_ts.append(ts); r_value.append(value)
                r_received.append(received)
                if ev.changed:
                    changes.append((info, "threshold", int(ev.previous), int(ev.level), {
                        "value": value, "cumulative": ev.cumulative, "rate": ev.rate_per_day,
                        "reasons": list(ev.reasons), "reading_ts": ts}))
            if accepted:
                if silent:
                    changes.append((info, "silent", int(Level.ALARM), int(Level.NORMAL), {
                        "value": None, "cumulative": None, "rate": None, "reasons": ["readings resumed"],
                        "reading_ts": None}))
                s_sensor.append(sensor_id); s_state.append(_json_encode(state.to_json()).decode())
                s_last.append(datetime.fromtimestamp(state.last_ts, UTC))
        if late:
            # Older than the last evaluated reading: a redelivery of a stored one is a duplicate, else out of order.
            stored = await Sensor.raw(
                "SELECT sensor, ts, value FROM monitoring_readings r JOIN unnest({}::uuid[], {}::timestamptz[])"
                " AS t(s, t) ON r.sensor = t.s AND r.ts = t.t", [x[0] for x in late], [x[1] for x in late],
            )
            have = {(r["sensor"], r["ts"]): r["value"] for r in stored}
            for sensor_id, ts, value, m in late:
                reason = "duplicate" if have.get((sensor_id, ts)) == value else "out_of_order"
                dead.append((m.topic, sensor_id, reason, f"reading at {ts.isoformat()} is not newer than the last one",
                             json.dumps({"ts": ts.isoformat(), "value": value})))
        if r_sensor:
            await Sensor.raw(
                "INSERT INTO monitoring_readings (sensor, ts, value, received_at)"
                " SELECT * FROM unnest({}::uuid[], {}::timestamptz[], {}::float8[], {}::timestamptz[])"
                " ON CONFLICT (sensor, ts) DO NOTHING", r_sensor, r_ts, r_value, r_received,
            )
        if s_sensor:
            await Sensor.raw(
                "UPDATE monitoring_rule_states AS r SET state = t.st::jsonb, last_ts = t.lt, silent = 0, updated_at = {}"
                " FROM unnest({}::uuid[], {}::text[], {}::timestamptz[]) AS t(s, st, lt) WHERE r.sensor = t.s",
                utcnow(), s_sensor, s_state, s_last,
            )
        for info, rule, previous, level, d in changes:
            event = await alarms.on_level_change(info, rule, previous, level, value=d["value"], cumulative=d["cumulative"],
                                                 rate=d["rate"], reasons=d["reasons"], reading_ts=d["reading_ts"])
            if event is not None:
                result.events.append(event)
        if dead:
            await Sensor.raw(
                "INSERT INTO monitoring_dead_letters (topic, sensor, reason, detail, payload, received_at)"
                " SELECT t, s, r, d, p, {} FROM unnest({}::text[], {}::uuid[], {}::text[], {}::text[], {}::text[])"
                " AS x(t, s, r, d, p)",
                utcnow(), [d[0] for d in dead], [d[1] for d in dead], [d[2] for d in dead], [d[3][:500] for d in dead],
                [d[4] for d in dead],
            )
    result.stored = len(r_sensor)
    result.dead = len(dead)
    for d in dead:
        result.dead_reasons[d[2]] += 1
    return result


def _text(payload: bytes) -> str:
    return payload[:PAYLOAD_KEEP].decode("utf-8", "replace")


async def check_silence(cache: SensorCache, now: float | None = None) -> list[UUID]:
    """Raise "sensor silent" for every sensor past its allowed gap (rules.is_silent); returns events to notify."""
    now = time.time() if now is None else now
    events: list[UUID] = []
    async with Sensor._meta.db.transaction():
        rows = await Sensor.raw(
            "SELECT r.sensor, r.state FROM monitoring_rule_states r JOIN monitoring_sensors s ON s.id = r.sensor"
            " WHERE r.silent = 0 AND s.status = 'active' AND r.last_ts IS NOT NULL"
            " AND r.last_ts < {}::timestamptz - make_interval(secs => s.interval_s * s.silent_after_missed)"
            " FOR UPDATE OF r SKIP LOCKED", datetime.fromtimestamp(now, UTC),
        )
        if not rows:
            return events
        known = await cache.get_many({r["sensor"] for r in rows})
        for r in rows:
            info = known.get(r["sensor"])
            if info is None:
                continue
            st = r["state"] if isinstance(r["state"], dict) else json.loads(r["state"])
            if not is_silent(RuleState.from_json(st), cache.thresholds[info.id], now):
                continue
            await Sensor.raw("UPDATE monitoring_rule_states SET silent = 1, updated_at = {} WHERE sensor = {}",
                             utcnow(), info.id)
            event = await alarms.on_level_change(info, "silent", int(Level.NORMAL), int(Level.ALARM), value=None,
                                                 cumulative=None, rate=None, reasons=["no reading within the allowed gap"],
                                                 reading_ts=None)
            if event is not None:
                events.append(event)
    return events
