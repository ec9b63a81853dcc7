"""Telemetry ingest (遥测接入): parse, evaluate and store a batch of MQTT messages in one transaction.

Called by the iot worker with whatever arrived (up to MONITORING_BATCH_MAX readings). Within one
transaction it locks the sensors' rule-state rows (so several workers on the shared subscription never
evaluate one sensor at once), evaluates every reading in arrival order on the state it keeps in memory
(or rebuilds from the row's scalars and the stored readings of the rate window when the row says
someone else moved it), COPYs the readings (unique on (sensor, ts): a redelivery is never stored
twice), and writes rule states, alarm changes and dead letters. The caller acknowledges the MQTT
messages only after this returns. The batch's alarm events are told (alarms.tell: notify() and
escalation rows, i.e. outbox rows) inside the same transaction, so a push exists iff its change committed.
"""

from __future__ import annotations

import io
import json
import random
from bisect import bisect_right
import math
import struct
import time
from collections import OrderedDict, defaultdict, deque
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
    Level,
    RuleState,
    Thresholds,
    is_silent,
    level_for,
    step,
    step_quiet_run,
    window_start,
)
from backend.monitoring.tables import Sensor
from backend.settings import Settings, get_settings

log = structlog.get_logger("zhijian.monitoring.ingest")

MAX_READINGS_PER_MESSAGE = 10_000
PAYLOAD_KEEP = 500  # characters of a refused payload kept in its dead letter
_THRESHOLD_FIELDS = {f.name for f in fields(Thresholds) if f.init}


class _Reading(msgspec.Struct, forbid_unknown_fields=True, gc=False):
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
    events: list[UUID] = field(default_factory=list)  # alarm events written and told in the batch's transaction
    event_keys: list[str] = field(default_factory=list)  # per event, its alarm's (point, metric, rule)
    dead_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Id(UUID):
    """A UUID that hashes once: a sensor id is a dict key a dozen times per message on the ingest path,
    and UUID.__hash__ is Python code. Equal to, and hashes like, the plain UUID."""

    __slots__ = ("_hash",)

    def __init__(self, hex: str) -> None:
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

    def __init__(self, refresh_s: float, max_states: int = 20_000, clock_skew_s: float = 300.0,
                 settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()  # what alarms.tell needs (escalation timing, templates)
        self.refresh_s = refresh_s
        self.clock_skew_s = clock_skew_s  # a reading stamped further ahead of its arrival is refused
        self.sensors: dict[UUID, SensorInfo] = {}
        self.loaded_at = 0.0
        self.max_states = max_states
        # sensor → (the row's rev as this worker wrote it, the state, its batch-start history)
        self.states: OrderedDict[UUID, tuple[int, RuleState, History]] = OrderedDict()
        self.rebuilt = 0  # states rebuilt from the database (a restart, another worker, an operator)

    async def _load(self, ids: list[UUID] | None) -> dict[UUID, SensorInfo]:
        where = "s.status IN ('active', 'paused')" + (" AND s.id = ANY({}::uuid[])" if ids is not None else "")
        rows = await Sensor.raw(
            "SELECT s.id, s.point, p.code AS point_code, s.project, pr.name AS project_name, pr.district, p.work,"
            " s.metric, s.thresholds, s.status FROM monitoring_sensors s JOIN monitoring_points p ON p.id = s.point"
            f" JOIN projects pr ON pr.id = s.project WHERE {where}",
            *([ids] if ids is not None else []),
        )
        sensors: dict[UUID, SensorInfo] = {}
        for r in rows:
            th = r["thresholds"] if isinstance(r["thresholds"], dict) else json.loads(r["thresholds"])
            sensors[r["id"]] = SensorInfo(id=r["id"], point_id=r["point"], point_code=r["point_code"],
                                          project_id=r["project"], project_name=r["project_name"],
                                          district=r["district"], work_id=r["work"], metric=r["metric"],
                                          thresholds=thresholds_of(th), status=r["status"])
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

    def remember(self, sensor_id: UUID, rev: int, state: RuleState, history: History) -> None:
        self.states[sensor_id] = (rev, state, history)
        self.states.move_to_end(sensor_id)
        while len(self.states) > self.max_states:
            self.states.popitem(last=False)

    def forget(self, sensor_ids: Iterable[UUID]) -> None:
        for sensor_id in sensor_ids:
            self.states.pop(sensor_id, None)


async def _lock_states(conn: Any, cache: SensorCache, known: dict[UUID, SensorInfo],
                       sensor_ids: list[UUID]) -> dict[UUID, tuple[RuleState, int, int, History]]:
    """Lock the sensors' state rows (one worker per sensor at a time) and return each state with its window,
    its silent and clock-fault flags and its batch-start history (for re-sequencing late readings)."""
    # The row's rev tells whether it is still what this worker wrote: the worker sets a new random rev with
    # every state it writes, and a trigger gives any other writer's state (another worker, an operator, psql) a
    # new one. Same rev: the cached state is used and the row's JSON is neither sent nor decoded, the most
    # frequent case by far.
    expected = [cached[0] if (cached := cache.states.get(s)) is not None else None for s in sensor_ids]
    rows = await conn.fetch(
        "SELECT r.sensor, r.rev, CASE WHEN r.rev IS DISTINCT FROM e.rev THEN r.state::text END AS state, r.silent,"
        " r.clock_fault FROM monitoring_rule_states r JOIN unnest($1::uuid[], $2::int8[]) AS e(s, rev)"
        " ON r.sensor = e.s ORDER BY r.sensor FOR UPDATE OF r", sensor_ids, expected,
    )
    out: dict[UUID, tuple[RuleState, int, int, History]] = {}
    stale: dict[UUID, dict[str, Any]] = {}
    for r in rows:
        cached = cache.states.get(r["sensor"])
        if cached is not None and cached[0] == r["rev"]:
            out[r["sensor"]] = (cached[1], r["silent"], r["clock_fault"], cached[2])
        else:
            stored = _json_decode(r["state"]) if r["state"] else {}
            history = History(stored.get("history") or [])
            stale[r["sensor"]] = stored
            out[r["sensor"]] = (RuleState.from_json(stored), r["silent"], r["clock_fault"], history)
    starts = {sid: window_start(st, known[sid].thresholds) for sid, st in stale.items()}
    starts = {sid: start for sid, start in starts.items() if start is not None and not stale[sid].get("window")}
    if starts:
        cache.rebuilt += len(starts)
        # the window: the readings since the edge, and the newest one at or before it (its anchor)
        readings = await conn.fetch(
            "SELECT r.sensor, r.ts, r.value FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS w(s, start, stop)"
            " JOIN monitoring_readings r ON r.sensor = w.s AND r.ts >= COALESCE((SELECT max(x.ts) FROM"
            " monitoring_readings x WHERE x.sensor = w.s AND x.ts <= w.start), w.start)"
            " AND r.ts <= w.stop ORDER BY r.sensor, r.ts",
            list(starts), [datetime.fromtimestamp(x, UTC) for x in starts.values()],
            [datetime.fromtimestamp(float(stale[sid]["last_ts"]), UTC) for sid in starts],
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
        self._ts: list[float] = []  # Unix seconds, turned into PostgreSQL's µs for the whole batch at once
        self._values: list[float] = []
        self._received: list[int] = []

    def add(self, sensor: bytes, ts_epoch: float, value: float, received_us: int) -> None:
        self._ids.append(sensor)
        self._ts.append(ts_epoch)
        self._values.append(value)
        self._received.append(received_us)

    def add_run(self, sensor: bytes, ts_epoch: np.ndarray, values: np.ndarray, received_us: np.ndarray) -> None:
        self._runs.append((sensor, _pg_us_array(ts_epoch), values, received_us))

    def __len__(self) -> int:
        return len(self._ids) + sum(len(r[1]) for r in self._runs)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ids = [np.full(len(ts), sensor, dtype="V16") for sensor, ts, _, _ in self._runs]
        ids.append(np.array(self._ids, dtype="V16"))
        return (np.concatenate(ids), np.concatenate([r[1] for r in self._runs] + [_pg_us_array(np.array(self._ts, np.float64))]),
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
        if info.status != "active":  # paused for maintenance: kept, not judged
            dead.append((m.topic, sensor_id, "paused", "the sensor is paused for maintenance", _text(m.payload)))
            continue
        per_sensor[sensor_id].append((readings, m, received))

    remembered: list[tuple[UUID, RuleState, History]] = []
    written: dict[UUID, int] = {}  # sensor → the rev this batch wrote on its state row
    skew = cache.clock_skew_s
    try:
        async with Sensor._meta.db.transaction() as tx:
            conn = tx.connection
            states = await _lock_states(conn, cache, known, list(per_sensor)) if per_sensor else {}
            rows = Rows()
            s_sensor: list[UUID] = []
            s_state: list[str] = []
            s_rev: list[int] = []
            s_last: list[datetime] = []
            clock: list[tuple[UUID, int]] = []  # sensors whose device-clock fault opens (1) or clears (0)
            changes: list[tuple[SensorInfo, str, int, int, dict[str, Any]]] = []
            # Pass 1, per sensor: time sanity, ts order, duplicates inside the batch, what is older than the state.
            work: list[_SensorWork] = []
            for sensor_id, readings in per_sensor.items():
                info = known[sensor_id]
                state, silent, clock_fault, history = states.get(sensor_id) or (RuleState(), 0, 0, History([]))
                w = _SensorWork(sensor_id, info, state, silent, clock_fault, history, readings[0][1].topic)
                if len(readings) < QUIET_RUN_MIN and sum(len(rs) for rs, _, _ in readings) < QUIET_RUN_MIN:
                    _prepare_few(w, readings, skew, dead)  # the usual case of single-reading messages: no numpy
                else:
                    _prepare_many(w, readings, skew, dead)
                work.append(w)
            # Readings not newer than the state: a redelivery of a stored one is a duplicate, a different value
            # at a stored time a conflict; the rest are late readings, stored and judged (never dropped).
            older = [(w, i) for w in work for i in range(w.old)]
            if older:
                stored_rows = await conn.fetch(
                    "SELECT sensor, ts, value FROM monitoring_readings r JOIN unnest($1::uuid[], $2::timestamptz[])"
                    " AS t(s, t) ON r.sensor = t.s AND r.ts = t.t", [w.sensor_id for w, _ in older],
                    [_dt(w.ts[i]) for w, i in older])
                have = {(r["sensor"], r["ts"].timestamp()): r["value"] for r in stored_rows}
                for w in work:
                    if not w.old:
                        continue
                    late = []
                    for i in range(w.old):
                        t_i, v_i = float(w.ts[i]), float(w.values[i])
                        was = have.get((w.sensor_id, t_i))
                        if was is None:
                            late.append(i)
                            continue
                        reason = "duplicate" if was == v_i else "conflict"
                        dead.append((w.topic, w.sensor_id, reason, f"reading at {_iso(t_i)} already stored"
                                     + ("" if reason == "duplicate" else f" with the value {was:g}"), _one(t_i, v_i)))
                    w.late = late
            # Pass 2: evaluate.
            for w in work:
                sensor_id, info, state, th = w.sensor_id, w.info, w.state, w.info.thresholds
                raw_id = sensor_id.bytes
                before_level = state.level
                history = w.history.push(state)
                accepted = 0
                if w.late:
                    history = await _judge_late(conn, w, history, rows, changes)
                    accepted += len(w.late)
                fresh = slice(w.old, len(w.ts))
                ts_f, values_f, recv_f = w.ts[fresh], w.values[fresh], w.recv_us[fresh]
                if w.rewound is not None:
                    pass  # the replay has taken the fresh readings too
                elif state.level == Level.NORMAL and len(ts_f) >= QUIET_RUN_MIN and step_quiet_run(state, th, ts_f, values_f):
                    rows.add_run(raw_id, ts_f, values_f, recv_f)
                    accepted += len(ts_f)
                else:
                    for x, v, rec in zip(_listed(ts_f), _listed(values_f), _listed(recv_f), strict=True):
                        ev = step(state, th, x, v)
                        accepted += 1
                        rows.add(raw_id, x, v, rec)
                        if ev.level != ev.previous:
                            changes.append((info, "threshold", int(ev.previous), int(ev.level), {
                                "value": v, "cumulative": ev.cumulative, "rate": ev.rate_per_day,
                                "reasons": list(ev.reasons), "reading_ts": _dt(x)}))
                if w.rewound is not None and w.rewound.level != before_level:
                    ev = w.rewound
                    changes.append((info, "threshold", int(before_level), int(ev.level), {
                        "value": ev.value, "cumulative": ev.cumulative, "rate": ev.rate_per_day,
                        "reasons": [*ev.reasons, "re-sequenced: a reading arrived after a newer one"],
                        "reading_ts": _dt(ev.ts)}))
                remembered.append((sensor_id, state, history))
                if w.clock_open:
                    clock.append((sensor_id, 1))
                    changes.append((info, "clock", int(Level.NORMAL), int(Level.WARNING), {
                        "value": None, "cumulative": None, "rate": None,
                        "reasons": ["device clock ahead: readings stamped in the future refused"], "reading_ts": None}))
                elif w.clock_clear:
                    clock.append((sensor_id, 0))
                    changes.append((info, "clock", int(Level.WARNING), int(Level.NORMAL), {
                        "value": None, "cumulative": None, "rate": None, "reasons": ["device clock right again"],
                        "reading_ts": None}))
                if accepted:
                    if w.silent == 1:
                        changes.append((info, "silent", int(Level.ALARM), int(Level.NORMAL), {
                            "value": None, "cumulative": None, "rate": None, "reasons": ["readings resumed"],
                            "reading_ts": None}))
                    s_sensor.append(sensor_id)
                    s_state.append(_state_text(state, history))
                    s_rev.append(random.getrandbits(62) + 1)
                    s_last.append(datetime.fromtimestamp(state.last_ts, UTC))
            if clock:
                await conn.execute(
                    "UPDATE monitoring_rule_states AS r SET clock_fault = t.c FROM unnest($1::uuid[], $2::int2[])"
                    " AS t(s, c) WHERE r.sensor = t.s", [c[0] for c in clock], [c[1] for c in clock])
            stored_n = await _store_readings(conn, rows, careful=careful) if len(rows) else 0
            if s_sensor:
                written = {r["sensor"]: r["rev"] for r in await conn.fetch(
                    "UPDATE monitoring_rule_states AS r SET state = t.st::jsonb, rev = t.rv, last_ts = t.lt, silent = 0,"
                    " updated_at = $1 FROM unnest($2::uuid[], $3::text[], $4::int8[], $5::timestamptz[]) AS t(s, st, rv, lt)"
                    " WHERE r.sensor = t.s RETURNING r.sensor, r.rev",
                    utcnow(), s_sensor, s_state, s_rev, s_last,
                )}
            for info, rule, previous, level, d in changes:
                event = await alarms.on_level_change(info, rule, previous, level, value=d["value"], cumulative=d["cumulative"],
                                                     rate=d["rate"], reasons=d["reasons"], reading_ts=d["reading_ts"])
                if event is not None:
                    result.events.append(event)
                    result.event_keys.append(f"{info.point_id}:{info.metric}:{rule}")
            await alarms.tell(result.events, settings=cache.settings)  # pushes commit with the batch, or not at all
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
    for sensor_id, state, history in remembered:
        if sensor_id in written:
            cache.remember(sensor_id, written[sensor_id], state, history)
        else:  # nothing written (every reading refused): the row keeps what it held, read it next time
            cache.forget([sensor_id])
    result.stored = stored_n
    result.dead = len(dead)
    for d in dead:
        result.dead_reasons[d[2]] += 1
    return result


def _listed(column: Any) -> list[Any]:
    return column.tolist() if isinstance(column, np.ndarray) else column


def _prepare_many(w: _SensorWork, readings: list[tuple[list[_Reading], Message, int]], skew: float,
                  dead: list[tuple[str, UUID | None, str, str, str]]) -> None:
    """Pass 1 for one sensor's readings of a batch, as arrays: time sanity (a reading stamped more than ``skew``
    ahead of its arrival is refused and opens a device-clock fault), ts order, duplicates inside the batch
    (compared with the reading before), and how many are not newer than the state (``w.old``)."""
    sensor_id, clock_fault, state = w.sensor_id, w.clock_fault, w.state
    ts_l = [r.ts.timestamp() for rs, _, _ in readings for r in rs]
    values_l = [r.value for rs, _, _ in readings for r in rs]
    counts = [len(rs) for rs, _, _ in readings]
    recv_s = np.repeat(np.array([m.received_at for _, m, _ in readings], np.float64), counts)
    recv_us = np.repeat(np.array([rec for _, _, rec in readings], np.int64), counts)
    ts_a, values_a = np.array(ts_l, np.float64), np.array(values_l, np.float64)
    future = ts_a > recv_s + skew
    if future.any():
        for i in np.flatnonzero(future).tolist():
            detail = (f"reading at {_iso(ts_l[i])} is {ts_l[i] - recv_s[i]:.0f} s ahead of its arrival"
                      f" (allowed {skew:g} s): the device clock is wrong")
            dead.append((w.topic, sensor_id, "future_timestamp", detail, _one(ts_l[i], values_l[i])))
        keep = ~future
        ts_a, values_a, recv_us = ts_a[keep], values_a[keep], recv_us[keep]
        if not clock_fault:
            w.clock_open = True
    elif clock_fault and len(ts_a):
        w.clock_clear = True
    if len(ts_a) > 1 and not (ts_a[1:] > ts_a[:-1]).all():
        order = np.argsort(ts_a, kind="stable")
        ts_a, values_a, recv_us = ts_a[order], values_a[order], recv_us[order]
        same = np.concatenate(([False], ts_a[1:] == ts_a[:-1]))
        for i in np.flatnonzero(same).tolist():
            reason = "duplicate" if values_a[i] == values_a[i - 1] else "conflict"
            dead.append((w.topic, sensor_id, reason, f"a second reading at {_iso(ts_a[i])} in one batch",
                         _one(ts_a[i], values_a[i])))
        ts_a, values_a, recv_us = ts_a[~same], values_a[~same], recv_us[~same]
    w.ts, w.values, w.recv_us = ts_a, values_a, recv_us
    last = state.last_ts
    w.old = 0 if last is None else int(np.searchsorted(ts_a, last, side="right"))


def _prepare_few(w: _SensorWork, readings: list[tuple[list[_Reading], Message, int]], skew: float,
                 dead: list[tuple[str, UUID | None, str, str, str]]) -> None:
    """Pass 1 for a sensor with fewer than QUIET_RUN_MIN readings in the batch (with single-reading messages,
    nearly every sensor): the same checks as the array path — time sanity, ts order, duplicates inside the
    batch, what is not newer than the state — on plain lists (numpy's per-call cost is the larger one here)."""
    items = [(r.ts.timestamp(), r.value, m.received_at, rec) for rs, m, rec in readings for r in rs]
    future = [it for it in items if it[0] > it[2] + skew]
    if future:
        for t, v, arrived, _ in future:
            detail = (f"reading at {_iso(t)} is {t - arrived:.0f} s ahead of its arrival"
                      f" (allowed {skew:g} s): the device clock is wrong")
            dead.append((w.topic, w.sensor_id, "future_timestamp", detail, _one(t, v)))
        items = [it for it in items if it[0] <= it[2] + skew]
        if not w.clock_fault:
            w.clock_open = True
    elif w.clock_fault and items:
        w.clock_clear = True
    if len(items) > 1 and any(items[i][0] >= items[i + 1][0] for i in range(len(items) - 1)):
        items.sort(key=lambda it: it[0])  # stable, as the array path's argsort
        kept = [items[0]]
        for before, it in zip(items, items[1:]):
            if it[0] == before[0]:  # compared with the one before it, kept or not (as the array path does)
                reason = "duplicate" if it[1] == before[1] else "conflict"
                dead.append((w.topic, w.sensor_id, reason, f"a second reading at {_iso(it[0])} in one batch",
                             _one(it[0], it[1])))
            else:
                kept.append(it)
        items = kept
    w.ts = [it[0] for it in items]
    w.values = [it[1] for it in items]
    w.recv_us = [it[3] for it in items]
    last = w.state.last_ts
    w.old = 0 if last is None else bisect_right(w.ts, last)


@dataclass(slots=True)
class _SensorWork:
    """One sensor's share of a batch while it is evaluated (readings in ts order, numpy columns)."""

    sensor_id: UUID
    info: SensorInfo
    state: RuleState
    silent: int
    clock_fault: int
    history: History
    topic: str
    ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    recv_us: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    old: int = 0  # the first ``old`` readings are not newer than the state's last one
    late: list[int] = field(default_factory=list)  # of those, the ones not stored yet (indexes)
    clock_open: bool = False
    clock_clear: bool = False
    rewound: _Replayed | None = None


@dataclass(slots=True)
class _Replayed:
    """The last evaluation of a re-sequenced replay (its level is the sensor's level after it)."""

    level: Level
    value: float
    ts: float
    cumulative: float
    rate_per_day: float | None
    reasons: tuple[str, ...]


HISTORY_KEEP = 8  # batch-start states kept per sensor: how far back a late reading can be re-sequenced


class History:
    """A sensor's batch-start states (the scalars of rules.RuleState, oldest first, at most HISTORY_KEEP), with
    each snapshot's JSON kept beside it: a batch encodes only the snapshot it adds, not the whole history."""

    __slots__ = ("snaps", "_json")

    def __init__(self, snaps: list[list[Any]], encoded: list[bytes] | None = None) -> None:
        self.snaps = snaps
        self._json = encoded if encoded is not None else [_json_encode(x) for x in snaps]

    def __len__(self) -> int:
        return len(self.snaps)

    def __getitem__(self, k: int) -> list[Any]:
        return self.snaps[k]

    def push(self, state: RuleState) -> History:
        """The state's scalars at the start of this batch appended (the oldest dropped past HISTORY_KEEP), in place
        — as the state itself is stepped in place: a batch that fails makes the cache forget both."""
        if self.snaps and self.snaps[-1][1] == state.last_ts:
            return self
        snap = [state.baseline, state.last_ts, state.last_value, state.consecutive_over, state.below_count,
                int(state.level), state.over_counted_ts]
        self.snaps.append(snap)
        self._json.append(_json_encode(snap))
        if len(self.snaps) > HISTORY_KEEP:
            del self.snaps[0], self._json[0]
        return self

    def upto(self, n: int) -> History:
        return History(self.snaps[:n], self._json[:n])

    def json(self) -> bytes:
        return b"[" + b",".join(self._json) + b"]"


def _state_text(state: RuleState, history: History) -> str:
    """The state row's JSON: the rule state's scalars and the history, as ``{**state.to_json(), "history": …}``."""
    return (_json_encode(state.to_json())[:-1] + b',"history":' + history.json() + b"}").decode()


def _from_snapshot(snap: list[Any]) -> RuleState:
    return RuleState(baseline=snap[0], last_ts=snap[1], last_value=snap[2], consecutive_over=int(snap[3]),
                     below_count=int(snap[4]), level=Level(int(snap[5])), over_counted_ts=snap[6])


async def _judge_late(conn: Any, w: _SensorWork, history: History, rows: Rows,
                      changes: list[tuple[SensorInfo, str, int, int, dict[str, Any]]]) -> History:
    """Store the sensor's late readings and judge them; returns the history to keep.

    Re-sequencing: when a batch-start state older than the earliest late reading is still in the history
    (another worker committed a newer reading of the sensor first), the state is rewound to it and every
    reading since — stored ones and this batch's, late and fresh — is replayed in ts order, so the state
    ends exactly as one worker stepping them in order would leave it; the caller records only the net
    level change (what is already decided is not raised again). Older than the history: the reading is
    stored and its cumulative value judged alone — it can raise the level, never repeat or lower it."""
    th, state, info, raw_id = w.info.thresholds, w.state, w.info, w.sensor_id.bytes
    first_late = float(w.ts[w.late[0]])
    j = next((k for k in range(len(history) - 1, -1, -1)
              if history[k][1] is None or history[k][1] < first_late), None)
    for i in w.late:
        rows.add(raw_id, float(w.ts[i]), float(w.values[i]), int(w.recv_us[i]))
    if j is not None:
        snap = history[j]
        rewound = _from_snapshot(snap)
        since = None if snap[1] is None else _dt(snap[1] - th.rate_window_s)
        stored = await conn.fetch(
            "SELECT ts, value FROM monitoring_readings WHERE sensor = $1 AND ts >= COALESCE((SELECT max(ts) FROM"
            " monitoring_readings WHERE sensor = $1 AND ts <= $2), $2, '-infinity'::timestamptz) ORDER BY ts",
            w.sensor_id, since)
        replay: list[tuple[float, float]] = []
        for r in stored:
            x = r["ts"].timestamp()
            if snap[1] is not None and x <= snap[1]:
                rewound.window.append((x, r["value"]))
            else:
                replay.append((x, r["value"]))
        replay.extend((float(w.ts[i]), float(w.values[i])) for i in w.late)
        fresh = range(w.old, len(w.ts))
        replay.extend((float(w.ts[i]), float(w.values[i])) for i in fresh)
        for i in fresh:
            rows.add(raw_id, float(w.ts[i]), float(w.values[i]), int(w.recv_us[i]))
        replay.sort()
        ev = None
        for x, v in replay:
            ev = step(rewound, th, x, v)
        assert ev is not None
        # the caller's state object is the cache's: move the replayed values into it
        state.baseline, state.last_ts, state.last_value = rewound.baseline, rewound.last_ts, rewound.last_value
        state.window, state.consecutive_over, state.below_count = rewound.window, rewound.consecutive_over, rewound.below_count
        state.sums, state.over_counted_ts = None, rewound.over_counted_ts
        w.rewound = _Replayed(rewound.level, ev.state.last_value, ev.state.last_ts, ev.cumulative, ev.rate_per_day,
                              ev.reasons)
        state.level = rewound.level
        return history.upto(j + 1)
    cutoff = (state.last_ts or 0.0) - th.rate_window_s
    window = sorted([*state.window, *((float(w.ts[i]), float(w.values[i])) for i in w.late)])
    while len(window) >= 2 and window[1][0] <= cutoff:
        window.pop(0)
    state.window, state.sums = deque(window), None
    baseline = state.baseline if state.baseline is not None else float(w.values[w.late[0]])
    for i in w.late:
        v = float(w.values[i])
        level, reasons = level_for(th, abs(v - baseline), None, 0)
        if level > state.level:
            changes.append((info, "threshold", int(state.level), int(level), {
                "value": v, "cumulative": abs(v - baseline), "rate": None,
                "reasons": [*reasons, "late reading"], "reading_ts": _dt(float(w.ts[i]))}))
            state.level, state.below_count = level, 0
    return history


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).isoformat()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def _one(ts: float, value: float) -> str:
    return json.dumps({"ts": _iso(ts), "value": float(value)})


def _text(payload: bytes) -> str:
    return payload[:PAYLOAD_KEEP].decode("utf-8", "replace")


async def check_silence(cache: SensorCache, now: float | None = None) -> list[UUID]:
    """Raise "sensor silent" for every active sensor past its allowed gap, told in the same transaction; returns the events.

    The gap counts from the last reading (``interval_s × silent_after_missed``, rules.is_silent), or — for a
    sensor that never reported — from its creation, after one expected interval; a resumed sensor counts
    from its resumption. A silent alarm cleared by hand (``silent`` = 2) stays cleared until a reading comes."""
    now = time.time() if now is None else now
    events: list[UUID] = []
    async with Sensor._meta.db.transaction():
        rows = await Sensor.raw(
            "SELECT r.sensor, r.state, r.last_ts FROM monitoring_rule_states r JOIN monitoring_sensors s ON s.id = r.sensor"
            " WHERE r.silent = 0 AND s.status = 'active' AND GREATEST(COALESCE(r.last_ts, s.created_at),"
            " COALESCE(s.status_at, s.created_at)) < {}::timestamptz - make_interval(secs => s.interval_s *"
            " CASE WHEN r.last_ts IS NULL THEN 1 ELSE s.silent_after_missed END)"
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
            never = r["last_ts"] is None
            if not never and not is_silent(RuleState.from_json(st), info.thresholds, now):
                continue
            await Sensor.raw("UPDATE monitoring_rule_states SET silent = 1, updated_at = {} WHERE sensor = {}",
                             utcnow(), info.id)
            reason = "never reported within its first interval" if never else "no reading within the allowed gap"
            event = await alarms.on_level_change(info, "silent", int(Level.NORMAL), int(Level.ALARM), value=None,
                                                 cumulative=None, rate=None, reasons=[reason], reading_ts=None)
            if event is not None:
                events.append(event)
        await alarms.tell(events, settings=cache.settings)
    return events
