"""Telemetry ingest (遥测接入): parse, evaluate and store a batch of MQTT messages in one transaction.

Called by the iot worker with whatever arrived (up to MONITORING_BATCH_MAX readings). Within one
transaction it locks the sensors' rule-state rows (so several workers on the shared subscription never
evaluate one sensor at once), evaluates every reading in arrival order on the state it keeps in memory
(or rebuilds from the row's scalars and the stored readings of the rate window when the row says
someone else moved it), COPYs the readings (unique on (sensor, ts): a redelivery is never stored
twice), and writes rule states, alarm changes and dead letters. The caller acknowledges the MQTT
messages only after this returns, then sends the pending notifications.
"""

from __future__ import annotations

import io
import json
import math
import struct
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

import msgspec
import numpy as np
import structlog
from asyncpg.exceptions import UniqueViolationError

from backend.db import utcnow
from backend.monitoring import alarms
from backend.monitoring.alarms import SensorInfo
from backend.monitoring.rules import (
    QUIET_RUN_MIN,
    Duplicate,
    Level,
    OutOfOrder,
    RuleState,
    Thresholds,
    is_silent,
    step,
    step_quiet_run,
    window_start,
)
from backend.monitoring.tables import Sensor

log = structlog.get_logger("zhijian.monitoring.ingest")

MAX_READINGS_PER_MESSAGE = 10_000
PAYLOAD_KEEP = 500  # characters of a refused payload kept in its dead letter
_THRESHOLD_FIELDS = {f.name for f in fields(Thresholds) if f.init}


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
    event_keys: list[str] = field(default_factory=list)  # per event, its alarm's (point, metric, rule)
    dead_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Id(UUID):
    """A UUID that hashes once: a sensor id is a dict key a dozen times per message on the ingest path,
    and UUID.__hash__ is Python code. Equal to, and hashes like, the plain UUID."""

    __slots__ = ("_hash",)

    def __init__(self, hex: str) -> None:  # noqa: A002 - UUID's own parameter name
        super().__init__(hex)
        object.__setattr__(self, "_hash", hash(self.int))

    def __setstate__(self, state: dict[str, Any]) -> None:  # copied or unpickled: hash again
        super().__setstate__(state)
        object.__setattr__(self, "_hash", hash(self.int))

    def __hash__(self) -> int:
        return self._hash


@lru_cache(maxsize=65_536)  # topics repeat (one per sensor): parse each once; refusals raise and are not cached
def parse_topic(topic: str) -> tuple[UUID, UUID]:
    """zhijian/v1/{project_id}/{sensor_id}/telemetry → (project, sensor)."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "zhijian" or parts[1] != "v1" or parts[4] != "telemetry":
        raise Malformed("topic is not zhijian/v1/{project_id}/{sensor_id}/telemetry")
    try:
        return _Id(parts[2]), _Id(parts[3])
    except ValueError:
        raise Malformed("project_id and sensor_id must be UUIDs") from None


def parse_payload(payload: bytes) -> list[_Reading]:
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
        out = msg.readings
    elif msg.ts is not None and msg.value is not None:
        out = [_Reading(msg.ts, msg.value)]
    else:
        raise Malformed("ts and value are required")
    # A huge exponent decodes to inf; the sum is finite when every value is (bar an overflow, then look closer).
    if not math.isfinite(sum([r.value for r in out])) and any(not math.isfinite(r.value) for r in out):
        raise Malformed("value must be a finite number")
    return out


def thresholds_of(data: dict[str, Any]) -> Thresholds:
    return Thresholds(**{k: v for k, v in data.items() if k in _THRESHOLD_FIELDS})


class SensorCache:
    """Active sensors with their thresholds (refreshed periodically; unknown ids looked up once per batch),
    and the rule states this worker last stored, kept with their windows so a batch needs no rebuild.

    A cached state is used only while the row in ``monitoring_rule_states`` still holds exactly the
    scalars this worker wrote (another worker on the shared subscription, or an operator's clear,
    changes them: the state is then rebuilt from the row and the stored readings). At most
    ``max_states`` sensors are kept (least recently used dropped), which bounds the worker's memory.
    """

    def __init__(self, refresh_s: float, max_states: int = 20_000) -> None:
        self.refresh_s = refresh_s
        self.sensors: dict[UUID, SensorInfo] = {}
        self.loaded_at = 0.0
        self.max_states = max_states
        self.states: OrderedDict[UUID, tuple[dict[str, Any], RuleState]] = OrderedDict()
        self.rebuilt = 0  # states rebuilt from the database (a restart, another worker, an operator)

    async def _load(self, ids: list[UUID] | None) -> dict[UUID, SensorInfo]:
        where = "s.status = 'active'" + (" AND s.id = ANY({}::uuid[])" if ids is not None else "")
        rows = await Sensor.raw(
            "SELECT s.id, s.point, p.code AS point_code, s.project, pr.name AS project_name, pr.district, p.work,"
            " s.metric, s.thresholds FROM monitoring_sensors s JOIN monitoring_points p ON p.id = s.point"
            f" JOIN projects pr ON pr.id = s.project WHERE {where}",
            *([ids] if ids is not None else []),
        )
        sensors: dict[UUID, SensorInfo] = {}
        for r in rows:
            th = r["thresholds"] if isinstance(r["thresholds"], dict) else json.loads(r["thresholds"])
            sensors[r["id"]] = SensorInfo(id=r["id"], point_id=r["point"], point_code=r["point_code"],
                                          project_id=r["project"], project_name=r["project_name"],
                                          district=r["district"], work_id=r["work"], metric=r["metric"],
                                          thresholds=thresholds_of(th))
        return sensors

    async def get_many(self, ids: set[UUID]) -> dict[UUID, SensorInfo]:
        """The active sensors among ``ids``. Concurrent batches may call this: a refresh swaps whole tables."""
        now = time.monotonic()
        if now - self.loaded_at > self.refresh_s:
            self.loaded_at = now
            self.sensors = await self._load(None)
        missing = [i for i in ids if i not in self.sensors]
        if missing:
            self.sensors.update(await self._load(missing))
        sensors = self.sensors
        return {i: sensors[i] for i in ids if i in sensors}

    def remember(self, sensor_id: UUID, stored: dict[str, Any], state: RuleState) -> None:
        self.states[sensor_id] = (stored, state)
        self.states.move_to_end(sensor_id)
        while len(self.states) > self.max_states:
            self.states.popitem(last=False)

    def forget(self, sensor_ids: Iterable[UUID]) -> None:
        for sensor_id in sensor_ids:
            self.states.pop(sensor_id, None)


async def _lock_states(conn: Any, cache: SensorCache, known: dict[UUID, SensorInfo],
                       sensor_ids: list[UUID]) -> dict[UUID, tuple[RuleState, int]]:
    """Lock the sensors' state rows (one worker per sensor at a time) and return each state with its window."""
    rows = await conn.fetch(
        "SELECT sensor, state::text AS state, silent FROM monitoring_rule_states WHERE sensor = ANY($1::uuid[])"
        " ORDER BY sensor FOR UPDATE", sensor_ids,
    )
    out: dict[UUID, tuple[RuleState, int]] = {}
    stale: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        stored = _json_decode(r["state"]) if r["state"] else {}
        cached = cache.states.get(r["sensor"])
        if cached is not None and cached[0] == stored:
            out[r["sensor"]] = (cached[1], r["silent"])
        else:
            stale[r["sensor"]] = stored
            out[r["sensor"]] = (RuleState.from_json(stored), r["silent"])
    starts = {sid: window_start(st, known[sid].thresholds) for sid, st in stale.items()}
    starts = {sid: start for sid, start in starts.items() if start is not None and not stale[sid].get("window")}
    if starts:
        cache.rebuilt += len(starts)
        readings = await conn.fetch(
            "SELECT r.sensor, r.ts, r.value FROM monitoring_readings r JOIN unnest($1::uuid[], $2::timestamptz[])"
            " AS w(s, start) ON r.sensor = w.s AND r.ts >= w.start ORDER BY r.sensor, r.ts",
            list(starts), [datetime.fromtimestamp(x, UTC) for x in starts.values()],
        )
        for r in readings:
            out[r["sensor"]][0].window.append((r["ts"].timestamp(), r["value"]))
    return out


_PG_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z, PostgreSQL's zero for timestamps, in Unix seconds
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# One row of PostgreSQL's binary COPY: 4 length-prefixed fields uuid, timestamptz, float8, timestamptz.
_COPY_ROW = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", "V16"), ("ts_len", ">i4"), ("ts", ">i8"),
                      ("value_len", ">i4"), ("value", ">f8"), ("received_len", ">i4"), ("received", ">i8")])


class Rows:
    """The accepted readings of a batch as columns (sensor uuid bytes, ts and received_at in µs since
    2000-01-01 UTC, value): whole runs added as arrays, single readings one by one."""

    def __init__(self) -> None:
        self._runs: list[tuple[bytes, np.ndarray, np.ndarray, np.ndarray]] = []
        self._ids: list[bytes] = []
        self._ts: list[int] = []
        self._values: list[float] = []
        self._received: list[int] = []

    def add(self, sensor: bytes, ts_us: int, value: float, received_us: int) -> None:
        self._ids.append(sensor)
        self._ts.append(ts_us)
        self._values.append(value)
        self._received.append(received_us)

    def add_run(self, sensor: bytes, ts_epoch: np.ndarray, values: np.ndarray, received_us: np.ndarray) -> None:
        self._runs.append((sensor, _pg_us_array(ts_epoch), values, received_us))

    def __len__(self) -> int:
        return len(self._ids) + sum(len(r[1]) for r in self._runs)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ids = [np.full(len(ts), sensor, dtype="V16") for sensor, ts, _, _ in self._runs]
        ids.append(np.array(self._ids, dtype="V16"))
        return (np.concatenate(ids), np.concatenate([r[1] for r in self._runs] + [np.array(self._ts, np.int64)]),
                np.concatenate([r[2] for r in self._runs] + [np.array(self._values, np.float64)]),
                np.concatenate([r[3] for r in self._runs] + [np.array(self._received, np.int64)]))


def copy_rows(rows: Rows) -> bytes:
    """The rows in PostgreSQL's binary COPY format, built as one array (asyncpg's generic record encoder,
    or a struct call a row, costs more than the rules do)."""
    ids, ts, values, received = rows.columns()
    out = np.empty(len(ids), _COPY_ROW)
    out["fields"], out["id_len"], out["ts_len"], out["value_len"], out["received_len"] = 4, 16, 8, 8, 8
    out["id"], out["ts"], out["value"], out["received"] = ids, ts, values, received
    return b"".join((_COPY_HEADER, out.tobytes(), _COPY_TRAILER))


def _pg_us(epoch_s: float) -> int:
    """Unix seconds (µs precision, as parsed) → microseconds since PostgreSQL's epoch (2000-01-01 UTC)."""
    return round((epoch_s - _PG_EPOCH) * 1_000_000)


def _pg_us_array(epoch_s: np.ndarray) -> np.ndarray:
    """``_pg_us`` of each (numpy rounds halves to even, as round() does)."""
    return np.round((epoch_s - _PG_EPOCH) * 1_000_000).astype(np.int64)


def _from_pg_us(us: int) -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


async def _store_readings(conn: Any, rows: Rows, *, careful: bool) -> int:
    """COPY the accepted readings (one round trip). ``careful``: insert them skipping any already stored
    instead — the retry of a batch whose COPY met one (a state reset by hand), see process_batch."""
    if not careful:
        await conn.copy_to_table("monitoring_readings", source=io.BytesIO(copy_rows(rows)),
                                 columns=("sensor", "ts", "value", "received_at"), format="binary")
        return len(rows)
    ids, ts, values, received = rows.columns()
    status = await conn.execute(
        "INSERT INTO monitoring_readings (sensor, ts, value, received_at) SELECT * FROM unnest($1::uuid[],"
        " $2::timestamptz[], $3::float8[], $4::timestamptz[]) ON CONFLICT (sensor, ts) DO NOTHING",
        [UUID(bytes=bytes(i)) for i in ids], [_from_pg_us(int(x)) for x in ts], values.tolist(),
        [_from_pg_us(int(x)) for x in received],
    )
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 n"


async def process_batch(messages: list[Message], cache: SensorCache) -> BatchResult:
    """Evaluate and store one batch in one transaction; returns the alarm events to notify after commit.

    Should the COPY meet a reading already stored, the transaction is rolled back and the batch is
    evaluated again from the database with the readings inserted one conflict-skipping statement."""
    try:
        return await _process_batch(messages, cache, careful=False)
    except UniqueViolationError:
        log.warning("ingest_reading_already_stored", messages=len(messages))
        return await _process_batch(messages, cache, careful=True)


async def _process_batch(messages: list[Message], cache: SensorCache, *, careful: bool) -> BatchResult:
    result = BatchResult()
    dead: list[tuple[str, UUID | None, str, str, str]] = []  # topic, sensor, reason, detail, payload
    parsed: list[tuple[Message, UUID, UUID, list[_Reading], int]] = []
    for m in messages:
        try:
            project_id, sensor_id = parse_topic(m.topic)
            parsed.append((m, project_id, sensor_id, parse_payload(m.payload), _pg_us(m.received_at)))
        except Malformed as exc:
            dead.append((m.topic[:200], None, "malformed", str(exc), m.payload[:PAYLOAD_KEEP].decode("utf-8", "replace")))
    known = await cache.get_many({p[2] for p in parsed})
    per_sensor: dict[UUID, list[tuple[list[_Reading], Message, int]]] = defaultdict(list)
    for m, project_id, sensor_id, readings, received in parsed:
        info = known.get(sensor_id)
        if info is None:
            dead.append((m.topic, sensor_id, "unknown_sensor", "no active sensor with this id", _text(m.payload)))
            continue
        if info.project_id != project_id:
            dead.append((m.topic, sensor_id, "topic_mismatch", "the sensor belongs to another project", _text(m.payload)))
            continue
        per_sensor[sensor_id].append((readings, m, received))

    remembered: list[tuple[UUID, dict[str, Any], RuleState]] = []
    try:
        async with Sensor._meta.db.transaction() as tx:
            conn = tx.connection
            states = await _lock_states(conn, cache, known, list(per_sensor)) if per_sensor else {}
            rows = Rows()
            late: list[tuple[UUID, datetime, float, Message]] = []
            s_sensor: list[UUID] = []
            s_state: list[str] = []
            s_last: list[datetime] = []
            changes: list[tuple[SensorInfo, str, int, int, dict[str, Any]]] = []
            for sensor_id, readings in per_sensor.items():
                info = known[sensor_id]
                state, silent = states.get(sensor_id) or (RuleState(), 0)
                th = info.thresholds
                raw_id = sensor_id.bytes
                accepted = 0
                # most often nothing happens: the run at once (only a normal state can stay quiet)
                if state.level == Level.NORMAL and sum(len(r[0]) for r in readings) >= QUIET_RUN_MIN:
                    ts_run = np.array([r.ts.timestamp() for rs, _, _ in readings for r in rs])
                    values_run = np.array([r.value for rs, _, _ in readings for r in rs], np.float64)
                    if step_quiet_run(state, th, ts_run, values_run):
                        rows.add_run(raw_id, ts_run, values_run, np.repeat(
                            np.array([rec for _, _, rec in readings], np.int64), [len(rs) for rs, _, _ in readings]))
                        accepted, readings = len(ts_run), []
                for readings_of_message, m, received in readings:
                    for r in readings_of_message:
                        ts, value = r.ts, r.value
                        epoch = ts.timestamp()
                        try:
                            ev = step(state, th, epoch, value)
                        except Duplicate:
                            dead.append((m.topic, sensor_id, "duplicate", f"reading at {ts.isoformat()} already stored",
                                         json.dumps({"ts": ts.isoformat(), "value": value})))
                            continue
                        except OutOfOrder:
                            late.append((sensor_id, ts, value, m))
                            continue
                        accepted += 1
                        rows.add(raw_id, _pg_us(epoch), value, received)
                        if ev.level != ev.previous:
                            changes.append((info, "threshold", int(ev.previous), int(ev.level), {
                                "value": value, "cumulative": ev.cumulative, "rate": ev.rate_per_day,
                                "reasons": list(ev.reasons), "reading_ts": ts}))
                stored = state.to_json()
                remembered.append((sensor_id, stored, state))
                if accepted:
                    if silent:
                        changes.append((info, "silent", int(Level.ALARM), int(Level.NORMAL), {
                            "value": None, "cumulative": None, "rate": None, "reasons": ["readings resumed"],
                            "reading_ts": None}))
                    s_sensor.append(sensor_id)
                    s_state.append(_json_encode(stored).decode())
                    s_last.append(datetime.fromtimestamp(state.last_ts, UTC))
            if late:
                # Older than the last evaluated reading: a redelivery of a stored one is a duplicate, else out of order.
                stored_rows = await conn.fetch(
                    "SELECT sensor, ts, value FROM monitoring_readings r JOIN unnest($1::uuid[], $2::timestamptz[])"
                    " AS t(s, t) ON r.sensor = t.s AND r.ts = t.t", [x[0] for x in late], [x[1] for x in late],
                )
                have = {(r["sensor"], r["ts"]): r["value"] for r in stored_rows}
                for sensor_id, ts, value, m in late:
                    reason = "duplicate" if have.get((sensor_id, ts)) == value else "out_of_order"
                    dead.append((m.topic, sensor_id, reason, f"reading at {ts.isoformat()} is not newer than the last one",
                                 json.dumps({"ts": ts.isoformat(), "value": value})))
            stored_n = await _store_readings(conn, rows, careful=careful) if len(rows) else 0
            if s_sensor:
                await conn.execute(
                    "UPDATE monitoring_rule_states AS r SET state = t.st::jsonb, last_ts = t.lt, silent = 0, updated_at = $1"
                    " FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS t(s, st, lt) WHERE r.sensor = t.s",
                    utcnow(), s_sensor, s_state, s_last,
                )
            for info, rule, previous, level, d in changes:
                event = await alarms.on_level_change(info, rule, previous, level, value=d["value"], cumulative=d["cumulative"],
                                                     rate=d["rate"], reasons=d["reasons"], reading_ts=d["reading_ts"])
                if event is not None:
                    result.events.append(event)
                    result.event_keys.append(f"{info.point_id}:{info.metric}:{rule}")
            if dead:
                await Sensor.raw(
                    "INSERT INTO monitoring_dead_letters (topic, sensor, reason, detail, payload, received_at)"
                    " SELECT t, s, r, d, p, {} FROM unnest({}::text[], {}::uuid[], {}::text[], {}::text[], {}::text[])"
                    " AS x(t, s, r, d, p)",
                    utcnow(), [d[0] for d in dead], [d[1] for d in dead], [d[2] for d in dead], [d[3][:500] for d in dead],
                    [d[4] for d in dead],
                )
    except BaseException:
        cache.forget(per_sensor)  # the states were stepped in memory: not what the database holds
        raise
    for sensor_id, stored, state in remembered:
        cache.remember(sensor_id, stored, state)
    result.stored = stored_n
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
            if not is_silent(RuleState.from_json(st), info.thresholds, now):
                continue
            await Sensor.raw("UPDATE monitoring_rule_states SET silent = 1, updated_at = {} WHERE sensor = {}",
                             utcnow(), info.id)
            event = await alarms.on_level_change(info, "silent", int(Level.NORMAL), int(Level.ALARM), value=None,
                                                 cumulative=None, rate=None, reasons=["no reading within the allowed gap"],
                                                 reading_ts=None)
            if event is not None:
                events.append(event)
    return events
