"""Telemetry through the real Mosquitto and the real iot worker: alarms, pushes, hysteresis, silence, dead letters."""

from __future__ import annotations

import uuid

import pytest

from backend.monitoring.tables import DeadLetter, Reading
from tests.monitoring.helpers import make_sensor, pushes, reading, tokens
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


async def _stored_is(sensor_id, n):  # noqa: ANN001
    return await _stored(sensor_id) == n


async def _count_at_least(alarm_id, n):  # noqa: ANN001
    rows = await pushes(alarm_id)
    return rows if len(rows) >= n else None


async def _lead_id(api, toks):  # noqa: ANN001
    return uuid.UUID((await api.get("/api/v1/me", headers=toks["lead_wang"])).json()["id"])
