"""Pass 1 of the ingest has two forms — arrays for many readings of a sensor in a batch, plain lists for a
few (single-reading messages) — and which one runs depends on how the broker happened to batch the
messages. Both must decide exactly the same for the same readings: generated inputs with noise, shuffled
order, duplicates, conflicting values at one time, future stamps, and states with and without a last reading."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from backend.monitoring.ingest import History, Message, _prepare_few, _prepare_many, _Reading, _SensorWork
from backend.monitoring.rules import RuleState

SKEW = 300.0
T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _case(rng: random.Random) -> tuple[list[tuple[list[_Reading], Message, int]], RuleState, int]:
    arrived = T0.timestamp() + 3600
    zone = rng.choice([UTC, timezone(timedelta(hours=8))])
    stamps = [T0 + timedelta(seconds=rng.choice([10, 20, 30, 40, 50, 60, 3700, 4000])) for _ in range(rng.randint(1, 7))]
    if rng.random() < 0.4:  # a duplicate or a conflicting value at the same time
        stamps.append(rng.choice(stamps))
    readings = []
    for ts in stamps:
        value = rng.choice([0.1, 0.2, round(rng.gauss(1.0, 0.3), 3)])
        message = Message("zhijian/v1/p/s/telemetry", b"{}", received_at=arrived + rng.random())
        readings.append(([_Reading(ts.astimezone(zone), value)], message, int(message.received_at * 1e6)))
    rng.shuffle(readings)
    state = RuleState()
    if rng.random() < 0.5:
        state.last_ts = (T0 + timedelta(seconds=rng.choice([0, 25, 45, 60]))).timestamp()
    return readings, state, rng.randint(0, 1)


def _run(prepare, readings, state, clock_fault):  # noqa: ANN001, ANN202
    w = _SensorWork(uuid.UUID(int=1), None, state, 0, clock_fault, History([]), "zhijian/v1/p/s/telemetry")  # type: ignore[arg-type]
    dead: list = []
    prepare(w, readings, SKEW, dead)
    as_list = (lambda c: c.tolist() if isinstance(c, np.ndarray) else list(c))
    return (as_list(w.ts), as_list(w.values), as_list(w.recv_us), w.old, w.clock_open, w.clock_clear, dead)


@pytest.mark.parametrize("seed", range(400))
def test_both_forms_of_pass_one_decide_alike(seed: int) -> None:
    readings, state, clock_fault = _case(random.Random(seed))
    assert _run(_prepare_few, readings, state, clock_fault) == _run(_prepare_many, readings, state, clock_fault)


def test_the_generator_reaches_every_branch() -> None:
    """The cases above include refusals of each kind, late readings and clock clears (else they prove little)."""
    seen = set()
    for seed in range(400):
        out = _run(_prepare_few, *_case(random.Random(seed)))
        seen |= {d[2] for d in out[6]}
        seen |= {"late"} if out[3] else set()
        seen |= {"clock_open"} if out[4] else set()
        seen |= {"clock_clear"} if out[5] else set()
    assert seen >= {"duplicate", "conflict", "future_timestamp", "late", "clock_open", "clock_clear"}
