"""The worker keeps rule state in memory between batches: it must follow every change made elsewhere
(another worker on the shared subscription, an operator resetting a state) and never double-store."""

from __future__ import annotations

import json

import pytest

from backend.monitoring.tables import Reading, RuleStateRow
from tests.monitoring.conftest import CLIENT_ID
from tests.monitoring.helpers import make_sensor, reading, rule_state, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio

# Rate limit 24 mm/d, counted above 70 % (16.8 mm/d) three times running; cumulative far away.
RATE_PLAN = {"wall_top_horizontal": {"cumulative_abs": 1000, "rate_per_day": 24, "warning_ratio": 0.9,
                                     "consecutive_rate_ratio": 0.7, "consecutive_count": 100,
                                     "rate_min_span_s": 3600, "rate_window_s": 3600}}  # the plan: hourly rates, counted hourly


async def _count(sensor_id: str, n: int) -> bool:
    return await Reading.count().where(Reading.sensor == sensor_id) == n


async def test_two_workers_take_turns_on_one_sensor_and_the_counter_stays_exact(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks, alarm_values=RATE_PLAN)
    # The run's usual worker (its session is in the shared group anyway) and a second one.
    workers = [start_iot(), start_iot(client_id=f"{CLIENT_ID}-b")]
    # 0.95 mm per hour = 22.8 mm/d: above 70 % of 24 (every reading after the first counts one more) and
    # above the 90 % warning, below the alarm.
    # One message at a time, each stored before the next, so the broker alternates between the two
    # workers and each finds its cached state outdated by the other every other time.
    for i in range(12):
        publisher.send(s["topic"], reading(i, 0.95 * i))
        assert await eventually(lambda n=i + 1: _count(s["id"], n), timeout=30)
    state = await rule_state(s["id"])
    assert state["consecutive_over"] == 11 and state["last_value"] == 0.95 * 11
    assert state["level"] == 1  # warning, the rate measured over the whole (rebuilt) window
    stats = []
    for w in workers:
        assert w.stop() == 0
        [line] = [x for x in w.log().splitlines() if "iot_worker_stopped" in x]
        stats.append(json.loads(line))
    assert all(st["received"] > 0 for st in stats)  # both took turns …
    assert sum(st["rebuilt"] for st in stats) > 0  # … and found the other's work in the row


async def test_a_state_reset_by_hand_is_followed_and_no_reading_is_stored_twice(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    worker = start_iot()
    publisher.send(s["topic"], {"readings": [reading(i, 0.1 * i) for i in range(3)]})
    assert await eventually(lambda: _count(s["id"], 3), timeout=30)
    # An operator resets the rule state: the worker's cached state no longer matches the row.
    await RuleStateRow.raw("UPDATE monitoring_rule_states SET state = {}::jsonb WHERE sensor = {}", "{}", s["id"])
    # The device resends its last reading with a new one: the reset state accepts both, the stored
    # reading makes the COPY fail, and the batch is redone skipping it.
    publisher.send(s["topic"], {"readings": [reading(2, 0.2), reading(3, 0.3)]})
    assert await eventually(lambda: _count(s["id"], 4), timeout=30)
    assert "ingest_reading_already_stored" in worker.log()
    state = await rule_state(s["id"])
    assert state["baseline"] == 0.2 and state["last_value"] == 0.3  # the reset took: a new baseline
    # Again with a day's run in one message, the first two readings already stored (the run is
    # taken at once, its COPY meets them, and the redone batch skips just those two).
    await RuleStateRow.raw("UPDATE monitoring_rule_states SET state = {}::jsonb WHERE sensor = {}", "{}", s["id"])
    publisher.send(s["topic"], {"readings": [reading(i, 0.1 * i) for i in range(2, 26)]})
    assert await eventually(lambda: _count(s["id"], 26), timeout=30)
    assert worker.log().count("ingest_reading_already_stored") == 2
    state = await rule_state(s["id"])
    assert state["baseline"] == 0.2 and state["last_value"] == 0.1 * 25


async def test_any_other_writer_of_a_state_gives_the_row_a_new_rev(api):
    """The worker trusts its cached state only while the row's rev is the one it wrote; a state written by
    anyone else (psql, the API) gets a new random rev from the trigger, a rev set with the state is kept."""
    toks = await tokens(api)
    s = await make_sensor(api, toks)

    async def rev() -> int:
        return (await RuleStateRow.raw("SELECT rev FROM monitoring_rule_states WHERE sensor = {}", s["id"]))[0]["rev"]

    await RuleStateRow.raw("UPDATE monitoring_rule_states SET state = {}::jsonb, rev = 42 WHERE sensor = {}", "{}", s["id"])
    assert await rev() == 42  # a writer that sets its own rev (the worker) keeps it
    seen = {42}
    for _ in range(3):  # the same text again, by a writer that does not set one: a new rev each time
        await RuleStateRow.raw("UPDATE monitoring_rule_states SET state = {}::jsonb WHERE sensor = {}", "{}", s["id"])
        assert await rev() not in seen
        seen.add(await rev())
    before = await rev()
    await RuleStateRow.raw("UPDATE monitoring_rule_states SET silent = 1 WHERE sensor = {}", s["id"])
    assert await rev() == before  # the flags are not the state: no new rev
