"""Telemetry through the real Mosquitto and the real iot worker: alarms, pushes, hysteresis, silence, dead letters."""

from __future__ import annotations

import uuid

import pytest

from backend.monitoring.tables import DeadLetter, Reading
from tests.monitoring.helpers import make_sensor, pushes, reading, rule_state, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def _stored(sensor_id: str) -> int:
    return await Reading.count().where(Reading.sensor == sensor_id)


async def _alarms(api, toks, project_id):  # noqa: ANN001
    resp = await api.get("/api/v1/monitoring/alarms", params={"project_id": project_id, "open_only": "false"},
                         headers=toks["lead_wang"])
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_normal_then_each_level_once_with_one_push_per_change(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # alarm 10 mm, warning 70 % (7 mm), danger 150 % (15 mm); rate 48 mm/d
    start_iot()
    mine = lambda alarms: [a for a in alarms if a["sensor_id"] == s["id"]]  # noqa: E731
    # Normal readings (baseline 0, creeping 0.5 mm/h = 12 mm/d < 70 % of 48): no alarm.
    publisher.send(s["topic"], {"readings": [reading(i, i * 0.5) for i in range(6)]})
    assert await eventually(lambda: _stored_is(s["id"], 6), timeout=30)
    assert mine(await _alarms(api, toks, s["project_id"])) == []
    # 7.5 mm: warning; repeated warning-level readings do not push again.
    for i, v in ((6, 7.5), (7, 7.6), (8, 7.7)):
        publisher.send(s["topic"], reading(i, v))
    assert await eventually(lambda: _stored_is(s["id"], 9), timeout=30)
    [alarm] = mine(await _alarms(api, toks, s["project_id"]))
    assert (alarm["level"], alarm["status"], alarm["occurrence"]) == (1, "active_unacknowledged", 1)
    lead = await _lead_id(api, toks)
    assert [p["recipient"] for p in await eventually(lambda: pushes(alarm["id"]))] == [lead]
    # 11 mm: alarm (same alarm row, level changed); 16 mm: danger goes to everyone at once.
    publisher.send(s["topic"], reading(9, 11.0))
    publisher.send(s["topic"], reading(10, 16.0))
    assert await eventually(lambda: _stored_is(s["id"], 11), timeout=30)
    [alarm] = mine(await _alarms(api, toks, s["project_id"]))
    assert (alarm["level"], alarm["max_level"], alarm["raised_count"]) == (3, 3, 3)
    detail = (await api.get(f"/api/v1/monitoring/alarms/{alarm['id']}", headers=toks["lead_wang"])).json()
    assert [(e["kind"], e["to_level"]) for e in detail["events"]] == [("raised", 1), ("level_changed", 2),
                                                                       ("level_changed", 3)]
    sent = await eventually(lambda: _count_at_least(alarm["id"], 4), timeout=30)
    people = [p["recipient"] for p in sent]
    assert people.count(lead) == 3  # one push per level change
    assert len(set(people)) >= 3  # danger: the supervisor and the station inspectors too


async def test_long_messages_quiet_then_crossing_make_one_alarm_and_one_push(api, start_iot, publisher):
    # A logger's day of hourly readings in one message is taken as a run when nothing happens in it;
    # the next message crosses the warning value part-way, and that one reading raises it, once.
    toks = await tokens(api)
    s = await make_sensor(api, toks)  # alarm 10 mm, warning 7 mm; rate 48 mm/d
    start_iot()
    mine = lambda alarms: [a for a in alarms if a["sensor_id"] == s["id"]]  # noqa: E731
    publisher.send(s["topic"], {"readings": [reading(i, 0.1 * i) for i in range(48)]})  # up to 4.7 mm, ~2.4 mm/d
    assert await eventually(lambda: _stored_is(s["id"], 48), timeout=30)
    assert mine(await _alarms(api, toks, s["project_id"])) == []
    state = await rule_state(s["id"])
    assert (state["baseline"], state["last_value"], state["level"], state["consecutive_over"]) == (0.0, 4.7, 0, 0)
    publisher.send(s["topic"], {"readings": [reading(i, 0.1 * i if i < 60 else 7.5) for i in range(48, 72)]})
    assert await eventually(lambda: _stored_is(s["id"], 72), timeout=30)
    [alarm] = mine(await _alarms(api, toks, s["project_id"]))
    assert (alarm["level"], alarm["occurrence"], alarm["raised_count"]) == (1, 1, 1)
    assert [p["recipient"] for p in await eventually(lambda: pushes(alarm["id"]))] == [await _lead_id(api, toks)]
    assert (await rule_state(s["id"]))["last_value"] == 7.5


async def _stored_is(sensor_id, n):  # noqa: ANN001
    return await _stored(sensor_id) == n


async def _count_at_least(alarm_id, n):  # noqa: ANN001
    rows = await pushes(alarm_id)
    return rows if len(rows) >= n else None


async def _lead_id(api, toks):  # noqa: ANN001
    return uuid.UUID((await api.get("/api/v1/me", headers=toks["lead_wang"])).json()["id"])


async def _events(api, toks, alarm_id):  # noqa: ANN001
    detail = (await api.get(f"/api/v1/monitoring/alarms/{alarm_id}", headers=toks["lead_wang"])).json()
    return [(e["kind"], e["to_level"]) for e in detail["events"]]


async def test_rate_above_70_percent_three_times_running_alarms(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, alarm_values={"wall_top_horizontal": {
        "cumulative_abs": 1000, "rate_per_day": 24, "warning_ratio": 0.8, "consecutive_rate_ratio": 0.7,
        "consecutive_count": 3, "rate_min_span_s": 3600, "rate_window_s": 3600}})  # the plan: hourly rates, counted hourly
    start_iot()
    # 0.75 mm/h = 18 mm/d: 75 % of the rate limit (below the 80 % warning), above 70 %.
    publisher.send(s["topic"], {"readings": [reading(i, 0.75 * i) for i in range(3)]})
    assert await eventually(lambda: _stored_is(s["id"], 3), timeout=30)
    assert [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"]] == []
    publisher.send(s["topic"], reading(3, 2.25))  # the third rate above 70 % running
    assert await eventually(lambda: _stored_is(s["id"], 4), timeout=30)
    [alarm] = [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"]]
    assert alarm["level"] == 2 and any("×3" in r for r in alarm["reasons"]), alarm
    assert len(await eventually(lambda: pushes(alarm["id"]))) == 1


async def test_hysteresis_holds_then_clears_stepwise(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, alarm_values={"wall_top_horizontal": {
        "cumulative_abs": 10, "rate_per_day": 1000, "warning_ratio": 0.7, "hysteresis": 0.1, "clear_after": 2}})
    start_iot()
    publisher.send(s["topic"], reading(0, 0.0))
    publisher.send(s["topic"], reading(1, 11.0))  # alarm
    for i, v in ((2, 9.5), (3, 9.8), (4, 9.1)):  # below 10 but not below 9 (= 90 %): holds
        publisher.send(s["topic"], reading(i, v))
    assert await eventually(lambda: _stored_is(s["id"], 5), timeout=30)
    [alarm] = [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"]]
    assert alarm["level"] == 2
    assert await _events(api, toks, alarm["id"]) == [("raised", 2)]
    publisher.send(s["topic"], reading(5, 8.5))  # once below the clearing threshold: not yet
    assert await eventually(lambda: _stored_is(s["id"], 6), timeout=30)
    assert await _events(api, toks, alarm["id"]) == [("raised", 2)]
    publisher.send(s["topic"], reading(6, 8.4))  # twice running: down to warning
    publisher.send(s["topic"], reading(7, 5.0))
    publisher.send(s["topic"], reading(8, 5.1))  # below 63 % twice: cleared
    assert await eventually(lambda: _stored_is(s["id"], 9), timeout=30)
    assert await _events(api, toks, alarm["id"]) == [("raised", 2), ("level_changed", 1), ("cleared", 0)]
    [alarm] = [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"]]
    assert alarm["status"] == "cleared"
    assert len(await eventually(lambda: _count_at_least(alarm["id"], 3), timeout=30)) == 3  # one per change


async def test_silent_sensor_raises_and_a_reading_clears(api, start_iot, publisher):
    from datetime import UTC, datetime

    toks = await tokens(api)
    s = await make_sensor(api, toks, interval_s=1, missed=2)
    start_iot({"ZHIJIAN_MONITORING_SILENCE_CHECK_S": "0.5"})
    publisher.send(s["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.0})

    async def silent():
        return [a for a in await _alarms(api, toks, s["project_id"]) if a["sensor_id"] == s["id"] and a["rule"] == "silent"]

    [alarm] = await eventually(silent, timeout=30)
    assert (alarm["level"], alarm["status"]) == (2, "active_unacknowledged")
    assert len(await eventually(lambda: pushes(alarm["id"]))) >= 1
    publisher.send(s["topic"], {"ts": datetime.now(UTC).isoformat(), "value": 1.1})

    async def cleared():
        return [a for a in await silent() if a["status"] == "cleared"]

    assert await eventually(cleared, timeout=30)


async def test_bad_messages_are_dead_lettered_and_the_worker_lives_on(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    worker = start_iot()
    other_project = str(uuid.uuid4())
    unknown = f"zhijian/v1/{s['project_id']}/{uuid.uuid4()}/telemetry"
    publisher.send(s["topic"], reading(5, 1.0))
    assert await eventually(lambda: _stored_is(s["id"], 1), timeout=30)
    publisher.send(s["topic"], b"{not json")
    publisher.send(s["topic"], {"ts": "2026-06-01T08:00:00", "value": 1})  # no zone
    publisher.send(s["topic"], {"ts": reading(6, 0)["ts"], "value": True})
    publisher.send(s["topic"], {"ts": reading(6, 0)["ts"], "value": 1, "readings": []})
    publisher.send(unknown, reading(6, 1.0))
    publisher.send(s["topic"].replace(s["project_id"], other_project), reading(6, 1.0))
    publisher.send(s["topic"], reading(2, 1.0))  # older than the last one: a late reading, stored (issue 18)
    publisher.send(s["topic"], reading(5, 1.0))  # the same reading again
    publisher.send(s["topic"], reading(7, 1.2))  # a good one after all that

    async def reasons():
        rows = await DeadLetter.select(DeadLetter.reason, DeadLetter.topic).where(
            DeadLetter.topic.like(f"%{s['id']}%") | (DeadLetter.topic == unknown))
        return sorted(r["reason"] for r in rows) if len(rows) >= 7 else None

    assert await eventually(reasons, timeout=30) == sorted(
        ["malformed"] * 4 + ["unknown_sensor", "topic_mismatch", "duplicate"])
    assert await eventually(lambda: _stored_is(s["id"], 3), timeout=30)
    assert worker.alive()
    listed = await api.get("/api/v1/monitoring/dead-letters", params={"reason": "unknown_sensor"}, headers=toks["admin"])
    assert listed.status_code == 200 and any(d["topic"] == unknown for d in listed.json())
    assert (await api.get("/api/v1/monitoring/dead-letters", headers=toks["lead_wang"])).status_code == 403
    # District staff see the refusals of their district's sensors only (an unknown sensor names no district).
    mine = (await api.get("/api/v1/monitoring/dead-letters", headers=toks["lc_inspector"])).json()
    assert any(d["sensor_id"] == s["id"] for d in mine) and not any(d["topic"] == unknown for d in mine)
    other = (await api.get("/api/v1/monitoring/dead-letters", headers=toks["lw_inspector"])).json()
    assert not any(d["sensor_id"] == s["id"] for d in other)
