"""Issue 18 through the real Mosquitto and real iot workers: device clocks, late readings, silence that stays
cleared, and 2 or 3 workers storing and raising exactly what one worker does."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.monitoring.tables import Alarm, AlarmEvent, DeadLetter, Reading
from tests.monitoring.helpers import make_sensor, pushes, reading, rule_state, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def _stored(sensor_id: str) -> int:
    return await Reading.count().where(Reading.sensor == sensor_id)


def _stored_is(sensor_id: str, n: int):
    async def check():
        return await _stored(sensor_id) == n
    return check


async def _alarms(sensor_id: str, rule: str | None = None) -> list[dict]:
    q = Alarm.select().where(Alarm.sensor == sensor_id)
    if rule:
        q = q.where(Alarm.rule == rule)
    return await q.order_by(Alarm.first_at)


async def _dead(sensor_id: str) -> list[dict]:
    return await DeadLetter.select().where(DeadLetter.sensor == sensor_id).order_by(DeadLetter.id)


async def test_a_future_stamp_is_refused_one_clock_fault_pushed_once_and_cleared(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    publisher.send(s["topic"], {"ts": "2036-01-01T00:00:00+08:00", "value": 0.5})  # the wrong clock
    [fault] = await eventually(lambda: _alarms(s["id"], "clock"), timeout=30)
    assert (fault["status"], fault["level"]) == ("active_unacknowledged", 1)
    [dead] = await _dead(s["id"])
    assert dead["reason"] == "future_timestamp" and "ahead of its arrival" in dead["detail"]
    assert len(await eventually(lambda: pushes(str(fault["id"])))) == 1
    # More wrong stamps: refused too, still one fault, still one push.
    publisher.send(s["topic"], {"readings": [{"ts": "2036-01-01T00:00:10+08:00", "value": 0.6},
                                             {"ts": "2036-01-01T00:00:20+08:00", "value": 0.7}]})
    assert await eventually(lambda: _dead_count(s["id"], 3), timeout=30)
    assert len(await _alarms(s["id"], "clock")) == 1 and len(await pushes(str(fault["id"]))) == 1
    assert await _stored(s["id"]) == 0
    # The clock is right again: readings are taken (the sensor was never blinded), the fault clears silently.
    for i in range(3):
        publisher.send(s["topic"], reading(i, 0.1 * i))
    assert await eventually(_stored_is(s["id"], 3), timeout=30)

    async def cleared():
        return [a for a in await _alarms(s["id"], "clock") if a["status"] == "cleared"]

    assert await eventually(cleared, timeout=30)
    assert len(await pushes(str(fault["id"]))) == 1
    assert (await rule_state(s["id"]))["last_ts"] == datetime.fromisoformat(reading(2, 0)["ts"]).timestamp()
    # A reading within the allowed skew (a few seconds fast) is fine.
    publisher.send(s["topic"], {"ts": (datetime.now(UTC) + timedelta(seconds=20)).isoformat(), "value": 0.3})
    assert await eventually(_stored_is(s["id"], 4), timeout=30)


async def _dead_count(sensor_id: str, n: int) -> bool:
    return len(await _dead(sensor_id)) == n


async def test_late_readings_are_stored_and_judged_without_raising_again(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # alarm 10 mm, warning 7 mm
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(i, 0.1 * i) for i in range(6)]})
    assert await eventually(_stored_is(s["id"], 6), timeout=30)
    publisher.send(s["topic"], reading(10, 11.0))
    [alarm] = await eventually(lambda: _alarms(s["id"], "threshold"), timeout=30)
    assert alarm["level"] == 2
    events = await AlarmEvent.count().where(AlarmEvent.alarm == alarm["id"])
    # Late readings (older than the last one): stored — never dropped — and nothing is raised again.
    publisher.send(s["topic"], {"readings": [reading(8, 10.5), reading(7, 9.0)]})
    assert await eventually(_stored_is(s["id"], 9), timeout=30)
    assert await AlarmEvent.count().where(AlarmEvent.alarm == alarm["id"]) == events
    assert len(await _alarms(s["id"], "threshold")) == 1 and await _dead(s["id"]) == []
    state = await rule_state(s["id"])
    assert (state["last_value"], state["level"]) == (11.0, 2)
    # The same late reading again is a duplicate; another value at a stored time a conflict: both kept as dead letters.
    publisher.send(s["topic"], reading(7, 9.0))
    publisher.send(s["topic"], reading(7, 9.5))
    assert await eventually(lambda: _dead_count(s["id"], 2), timeout=30)
    assert sorted(d["reason"] for d in await _dead(s["id"])) == ["conflict", "duplicate"]


async def test_a_late_reading_past_the_history_is_judged_alone_once(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    for i in range(12):  # twelve batches: more than the re-sequencing history holds
        publisher.send(s["topic"], reading(i * 2, 0.1))
        assert await eventually(_stored_is(s["id"], i + 1), timeout=30)
    publisher.send(s["topic"], reading(1, 7.5))  # a logger's backlog: 7.5 mm (warning) long ago
    assert await eventually(_stored_is(s["id"], 13), timeout=30)
    [alarm] = await eventually(lambda: _alarms(s["id"], "threshold"), timeout=30)
    assert alarm["level"] == 1 and "late reading" in alarm["reasons"]
    publisher.send(s["topic"], reading(3, 7.6))  # another late one at the same level: nothing new
    assert await eventually(_stored_is(s["id"], 14), timeout=30)
    assert [a["raised_count"] for a in await _alarms(s["id"], "threshold")] == [1]


async def test_a_cleared_silent_alarm_stays_cleared_until_the_sensor_reports_and_goes_silent_again(
        api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, interval_s=1, missed=2)
    never = await make_sensor(api, toks, interval_s=2, missed=5)  # never reports: flagged after 2 s, not 10 s
    start_iot({"ZHIJIAN_MONITORING_SILENCE_CHECK_S": "0.3"})
    publisher.send(s["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.0})
    [alarm] = await eventually(lambda: _alarms(s["id"], "silent"), timeout=30)
    [flagged] = await eventually(lambda: _alarms(never["id"], "silent"), timeout=30)
    assert "never reported within its first interval" in flagged["reasons"]
    resp = await api.post(f"/api/v1/monitoring/alarms/{alarm['id']}/clear", json={"note": "电池更换中"},
                          headers=toks["lead_wang"])  # a silence alarm the lead may clear
    assert resp.status_code == 200, resp.text
    await _sleep(3)  # six silence checks: it stays cleared, no new occurrence
    assert [a["status"] for a in await _alarms(s["id"], "silent")] == ["cleared"]
    publisher.send(s["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.1})  # reports again …

    async def second():
        rows = await _alarms(s["id"], "silent")
        return rows if len(rows) == 2 else None

    rows = await eventually(second, timeout=30)  # … and goes silent again: a new occurrence
    assert rows[-1]["occurrence"] == 2


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _series(seed: int, n: int = 80) -> list[dict]:
    """Hourly readings of a wall creeping towards its limit with ±0.1 mm noise: normal, warning, alarm, plateau."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        trend = min(0.16 * i, 11.5)
        out.append(reading(i, round(trend + rng.choice((-0.1, 0.0, 0.1)), 1)))
    return out


@pytest.mark.parametrize("workers", [2, 3])
async def test_n_workers_store_and_raise_exactly_what_one_worker_does(api, start_iot, publisher, workers):
    toks = await tokens(api)
    one, many = await make_sensor(api, toks), await make_sensor(api, toks)
    series = _series(18)
    first = start_iot()
    for r in series:  # one worker: the reference
        publisher.send(one["topic"], r)
    assert await eventually(_stored_is(one["id"], len(series)), timeout=60)
    extra = [start_iot(client_id=f"zhijian-test-iot-x{k}-{uuid.uuid4().hex[:6]}") for k in range(workers - 1)]
    for r in series:  # the same readings, one message each: the broker hands them round the workers
        publisher.send(many["topic"], r)
    assert await eventually(_stored_is(many["id"], len(series)), timeout=60)
    assert await _dead(many["id"]) == []  # nothing refused, nothing lost

    def shape(alarms):
        return [(a["rule"], a["level"], a["max_level"], a["status"], a["occurrence"]) for a in alarms]

    assert shape(await _alarms(many["id"])) == shape(await _alarms(one["id"])) != []
    keys = ("baseline", "last_ts", "last_value", "consecutive_over", "below_count", "level")
    want, got = await rule_state(one["id"]), await rule_state(many["id"])
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys}
    # every worker took a share of the sensor's messages (the split the re-sequencing has to undo)
    for w in [first, *extra]:
        w.stop()
    shares = [_received(w.log()) for w in [first, *extra]]
    assert all(n > 0 for n in shares[1:]), shares


def _received(log: str) -> int:
    import json

    for line in reversed(log.splitlines()):
        if '"iot_worker_stopped"' in line:
            return json.loads(line)["received"]
    return 0
