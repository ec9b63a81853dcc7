"""Alarm rules (pure, table-driven): OR of conditions, counts, hysteresis, silence, durable state."""

from __future__ import annotations

import pytest

from backend.monitoring.rules import (
    DAY_S,
    Duplicate,
    Level,
    OutOfOrder,
    RuleState,
    Thresholds,
    evaluate,
    is_silent,
    rate_over_window,
    step,
    window_start,
)

H = 6 * 3600.0  # readings every 6 hours


def run(t: Thresholds, values: list[float], start: float = 0.0, step: float = H, state: RuleState | None = None):
    state = state or RuleState()
    out = []
    for i, v in enumerate(values):
        e = evaluate(state, t, start + i * step, v)
        state = e.state
        out.append(e)
    return out


@pytest.mark.parametrize(
    ("t", "limit"),
    [
        (Thresholds(cumulative_abs=30, cumulative_pct_of_depth=0.3, design_depth=10_000), 30),
        (Thresholds(cumulative_abs=30, cumulative_pct_of_depth=0.2, design_depth=10_000), 20),  # %H is smaller
        (Thresholds(cumulative_abs=30), 30),
        (Thresholds(cumulative_pct_of_depth=0.4, design_depth=5_000), 20),
        (Thresholds(cumulative_pct_of_depth=0.4), None),  # no depth: no %H limit
        (Thresholds(), None),
    ],
)
def test_cumulative_limit_is_the_smaller(t, limit):
    assert t.cumulative_limit() == limit


CUM = Thresholds(cumulative_abs=30, warning_ratio=0.7, danger_ratio=1.2, consecutive_count=0)


@pytest.mark.parametrize(
    ("value", "level"),
    [(0, Level.NORMAL), (20.99, Level.NORMAL), (21.0, Level.WARNING), (29.99, Level.WARNING),
     (30.0, Level.ALARM), (35.99, Level.ALARM), (36.0, Level.DANGER), (-30.0, Level.ALARM)],
)
def test_cumulative_levels_both_sides_of_each_threshold(value, level):
    first, second = run(CUM, [0.0, value], step=30 * DAY_S)  # far apart: the rate stays small
    assert first.level == Level.NORMAL and second.level == level


def test_rate_alone_raises_the_alarm_cumulative_or_rate():
    t = Thresholds(cumulative_abs=100, rate_per_day=3, consecutive_count=0, rate_min_span_s=0)
    # 1 mm per 6 h = 4 mm/d ≥ 3 mm/d while the cumulative (3 mm) is far below its limit.
    evals = run(t, [0.0, 1.0, 2.0, 3.0])
    assert evals[-1].level == Level.ALARM and "rate≥alarm" in evals[-1].reasons
    assert evals[-1].cumulative == 3.0 and evals[-1].rate_per_day == pytest.approx(4.0)


def test_rate_above_70_percent_three_times_running():
    t = Thresholds(cumulative_abs=1000, rate_per_day=10, warning_ratio=0.9, consecutive_count=3, rate_window_s=H)
    # 2 mm per 6 h = 8 mm/d: 80 % of the rate limit (above 70 %, below the 90 % warning).
    evals = run(t, [0.0, 2.0, 4.0, 6.0])
    assert [e.level for e in evals] == [Level.NORMAL, Level.NORMAL, Level.NORMAL, Level.ALARM]
    assert any(r.startswith("rate>70%×3") for r in evals[-1].reasons)
    # Broken by one slow reading: the count starts again.
    evals = run(t, [0.0, 2.0, 4.0, 4.5, 6.5, 8.5])
    assert [e.state.consecutive_over for e in evals] == [0, 1, 2, 0, 1, 2]
    assert all(e.level == Level.NORMAL for e in evals)


def test_hysteresis_holds_then_clears_one_step():
    t = Thresholds(cumulative_abs=30, warning_ratio=0.7, hysteresis=0.1, clear_after=2, consecutive_count=0)
    far = 30 * DAY_S
    evals = run(t, [0.0, 30.0, 28.0, 26.9, 26.9], step=far)
    assert [e.level for e in evals] == [Level.NORMAL, Level.ALARM, Level.ALARM, Level.ALARM, Level.WARNING]
    assert [e.changed for e in evals] == [False, True, False, False, True]  # one push per level change
    # Hovering just under the alarm value never flaps.
    evals = run(t, [0.0, 30.0, 29.9, 30.0, 29.9, 30.0], step=far)
    assert sum(e.changed for e in evals) == 1


def test_hysteresis_clears_to_normal_when_far_below():
    t = Thresholds(cumulative_abs=30, warning_ratio=0.7, hysteresis=0.1, clear_after=2, consecutive_count=0)
    evals = run(t, [0.0, 31.0, 5.0, 5.0], step=30 * DAY_S)
    assert evals[-1].level == Level.NORMAL and evals[-2].level == Level.ALARM


def test_out_of_order_and_duplicates():
    state = evaluate(RuleState(), CUM, 100.0, 1.0).state
    with pytest.raises(OutOfOrder):
        evaluate(state, CUM, 99.0, 1.0)
    with pytest.raises(Duplicate):
        evaluate(state, CUM, 100.0, 1.0)
    with pytest.raises(OutOfOrder):
        evaluate(state, CUM, 100.0, 2.0)
    assert evaluate(state, CUM, 100.001, 1.0).level == Level.NORMAL


@pytest.mark.parametrize(("gap", "silent"), [(3599.0, False), (3600.0, False), (3600.5, True)])
def test_silence_boundary(gap, silent):
    t = Thresholds(cumulative_abs=30, silent_after_s=3600)
    state = evaluate(RuleState(), t, 1000.0, 0.0).state
    assert is_silent(state, t, 1000.0 + gap) is silent
    assert not is_silent(RuleState(), t, 1e9)  # never reported: not silent (not yet commissioned)
    assert not is_silent(state, Thresholds(), 1e9)


def test_state_survives_a_restart_through_its_scalars_and_the_stored_readings():
    t = Thresholds(cumulative_abs=1000, rate_per_day=10, warning_ratio=0.9, consecutive_count=3, rate_window_s=H)
    values = [0.0, 2.0, 4.0]
    before = run(t, values)
    stored = before[-1].state.to_json()
    assert "window" not in stored  # the window is the sensor's readings, not a copy in the state row
    readings = [(i * H, v) for i, v in enumerate(values)]
    start = window_start(stored, t)
    assert start == 2 * H - H
    resumed = RuleState.from_json(stored, [(ts, v) for ts, v in readings if ts >= start])
    assert resumed == before[-1].state
    after = evaluate(resumed, t, 3 * H, 6.0)
    assert after.level == Level.ALARM  # the third count survived the restart
    assert after.rate_per_day == pytest.approx(8.0)  # measured against the rebuilt window


def test_a_state_stored_with_its_window_inside_still_resumes():
    t = Thresholds(cumulative_abs=1000, rate_per_day=10, warning_ratio=0.9, consecutive_count=3, rate_window_s=H)
    before = run(t, [0.0, 2.0, 4.0])[-1].state
    older_format = {**before.to_json(), "window": [list(p) for p in before.window]}
    assert RuleState.from_json(older_format) == before
    assert window_start(None, t) is None and window_start({}, t) is None


def test_evaluate_leaves_the_state_alone_and_step_moves_it():
    t = Thresholds(cumulative_abs=30, rate_per_day=3)
    state = evaluate(RuleState(), t, 0.0, 0.0).state
    snapshot = state.copy()
    e = evaluate(state, t, H, 1.0)
    assert state == snapshot and e.state != snapshot and e.state.last_ts == H
    moved = step(state, t, H, 1.0)
    assert moved.state is state and state == e.state
    with pytest.raises(OutOfOrder):
        step(state, t, 0.5 * H, 1.0)
    assert state == e.state  # a refused reading changes nothing


@pytest.mark.parametrize(
    ("window", "rate"),
    [((), None), (((0.0, 1.0),), None), (((0.0, 1.0), (DAY_S, 3.0)), 2.0), (((0.0, 5.0), (DAY_S / 2, 4.0)), 2.0)],
)
def test_rate_over_window(window, rate):
    assert rate_over_window(window) == rate


def test_parsed_sensor_ids_behave_as_uuids():
    import copy
    import pickle
    import uuid

    from backend.monitoring.ingest import parse_topic

    project, sensor = uuid.uuid4(), uuid.uuid4()
    p, s = parse_topic(f"zhijian/v1/{project}/{sensor}/telemetry")
    assert (p, s) == (project, sensor) and {sensor: 1}[s] == 1 and {s: 1}[sensor] == 1
    for again in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert again == sensor and hash(again) == hash(sensor)


def _random_case(rng):
    """Random alarm values, a state reached by stepping a random prefix, and a run of new readings."""
    t = Thresholds(
        cumulative_abs=rng.choice([None, 10.0, 30.0]),
        cumulative_pct_of_depth=rng.choice([None, 0.2]),
        design_depth=rng.choice([None, 10_000.0]),
        rate_per_day=rng.choice([None, 0.0, 2.0, 5.0]),
        rate_window_s=rng.choice([DAY_S, 6 * 3600.0]),
        rate_min_span_s=rng.choice([0.0, 3 * 3600.0, DAY_S]),
        rate_method=rng.choice(["endpoints", "lsq"]),
        resolution=rng.choice([None, 0.1]),
        warning_ratio=rng.choice([0.7, 0.8]),
        danger_ratio=rng.choice([None, 1.2]),
        consecutive_count=rng.choice([0, 3]),
    )
    gap = rng.choice([600.0, 3600.0, 4 * 3600.0])
    drift = rng.choice([0.0, 0.01, 0.1, 0.5])
    state, now, value = RuleState(), 1.7e9, rng.uniform(-5, 5)
    for _ in range(rng.randrange(0, 40)):
        now += gap * rng.uniform(0.5, 1.5)
        value += rng.gauss(0, drift) + (rng.choice([0, 0, 0, 25.0]) if rng.random() < 0.02 else 0)
        step(state, t, now, value)
    ts, vals = [], []
    for _ in range(rng.randrange(1, 60)):
        now += gap * rng.uniform(0.5, 1.5)
        value += rng.gauss(0, drift)
        ts.append(now)
        vals.append(value)
    if rng.random() < 0.1:  # a redelivery, an older reading or two at one time
        i = rng.randrange(len(ts))
        ts.insert(i, ts[max(i - 1, 0)] if rng.random() < 0.5 else ts[i] - gap * 3)
        vals.insert(i, vals[i])
    if state.last_ts is not None and rng.random() < 0.05:
        ts[0], vals[0] = state.last_ts, state.last_value
    return t, state, ts, vals


def _snapshot(state: RuleState):
    return state.to_json(), list(state.window)


def test_quiet_run_is_exactly_step_reading_by_reading():
    # The worker's vectorised path for a run in which nothing happens must leave the very state that
    # stepping each reading would, and must refuse (state untouched) every run in which something would.
    import random

    import numpy as np

    from backend.monitoring.rules import step_quiet_run

    rng = random.Random(20261202)
    taken = refused = 0
    for _ in range(3000):
        t, state, ts, vals = _random_case(rng)
        before = _snapshot(state)
        fast = state.copy()
        took = step_quiet_run(fast, t, np.array(ts), np.array(vals))
        slow = state.copy()
        levels, raised = [], False
        for x, v in zip(ts, vals, strict=True):
            try:
                levels.append(step(slow, t, x, v).level)
            except (Duplicate, OutOfOrder):
                raised = True
        if took:
            taken += 1
            assert not raised and set(levels) == {Level.NORMAL}
            assert _snapshot(fast) == _snapshot(slow)
        else:
            refused += 1
            assert _snapshot(fast) == before
    assert taken > 500 and refused > 500  # both sides of the decision were exercised


# --- issue 18: honest rates (minimum span, least squares, dead band), forces, sparse sensors -------------

NOISY = Thresholds(cumulative_abs=20, rate_per_day=2, warning_ratio=0.7, resolution=0.1, consecutive_count=3,
                   rate_min_span_s=12 * 3600.0, rate_method="lsq")


def test_two_readings_seconds_apart_give_no_rate_verdict():
    # The case: 0.5 mm then 0.6 mm two seconds apart was 4,320 mm/d and an alarm.
    evals = run(NOISY, [0.5, 0.6], step=2.0)
    assert evals[-1].rate_per_day is None and evals[-1].level == Level.NORMAL


@pytest.mark.parametrize(("span_h", "has_rate"), [(11.99, False), (12.0, True), (30.0, True)])
def test_rate_needs_the_minimum_span_both_sides(span_h, has_rate):
    t = Thresholds(cumulative_abs=100, rate_per_day=2, rate_min_span_s=12 * 3600.0, consecutive_count=0)
    e = run(t, [0.0, 3.0], step=span_h * 3600.0)[-1]
    assert (e.rate_per_day is not None) is has_rate
    assert (e.level == Level.ALARM) is has_rate  # 3 mm over ≤ 30 h ≥ 2 mm/d


def test_least_squares_rate_ignores_noise_at_the_resolution():
    import random

    rng = random.Random(7)
    # a 10-second sensor, ±0.2 mm of noise (two resolution steps), no true movement, for two days
    values = [round(rng.uniform(-0.2, 0.2), 1) for _ in range(2 * 8640)]
    state, worst = RuleState(), 0.0
    for i, v in enumerate(values):
        e = step(state, NOISY, i * 10.0, v)
        assert e.level == Level.NORMAL
        worst = max(worst, e.rate_per_day or 0.0)
    assert worst < 0.2  # mm/d, against a 2 mm/d limit
    # endpoints over the same span would say up to 0.4 mm per 12 h = 0.8 mm/d: the method matters
    assert rate_over_window([(0.0, -0.2), (12 * 3600.0, 0.2)]) == pytest.approx(0.8)


def test_true_movement_is_measured_by_the_fit():
    t = Thresholds(cumulative_abs=100, rate_per_day=2, consecutive_count=0, resolution=0.1, rate_method="lsq")
    # 3 mm/d for a day, sampled hourly with ±0.1 mm alternating noise
    values = [3.0 * i / 24 + (0.1 if i % 2 else -0.1) for i in range(25)]
    e = run(t, values, step=3600.0)[-1]
    assert e.rate_per_day == pytest.approx(3.0, rel=0.05) and e.level == Level.ALARM


@pytest.mark.parametrize(("change", "rate_is_zero"), [(0.2, True), (0.21, False)])
def test_dead_band_is_two_resolution_steps(change, rate_is_zero):
    t = Thresholds(cumulative_abs=100, rate_per_day=2, resolution=0.1, rate_min_span_s=0, consecutive_count=0)
    e = run(t, [0.0, change], step=DAY_S)[-1]
    assert (e.rate_per_day == 0.0) is rate_is_zero


def test_sparse_sensor_is_measured_against_its_previous_observation():
    # a manual survey every ~25 h (just over the 1-day window): the window keeps the previous one as anchor
    t = Thresholds(cumulative_abs=100, rate_per_day=2, consecutive_count=0)
    e = run(t, [0.0, 3.0], step=25 * 3600.0)[-1]
    assert e.rate_per_day == pytest.approx(3.0 * 24 / 25) and e.level == Level.ALARM


@pytest.mark.parametrize(
    ("force", "level"),
    [(0.0, Level.NORMAL), (559.0, Level.NORMAL), (560.0, Level.WARNING), (699.0, Level.WARNING), (700.0, Level.ALARM)],
)
def test_forces_against_their_share_of_the_design_value(force, level):
    # GB 50497-2019 Table 8.0.4: support axial force limited as a percentage of the design value.
    t = Thresholds(design_value=1000.0, design_share=0.7, warning_ratio=0.8, consecutive_count=0)
    assert t.cumulative_limit() == 700.0
    state = RuleState(baseline=0.0)  # the gauge reads the force: measured from zero, not from the first reading
    assert step(state, t, 0.0, force).level == level


def test_cumulative_from_a_set_baseline():
    t = Thresholds(cumulative_abs=10, consecutive_count=0)
    assert step(RuleState(baseline=-5.0), t, 0.0, 5.0).level == Level.ALARM
    assert step(RuleState(), t, 0.0, 5.0).level == Level.NORMAL  # the first reading is the baseline


def test_loosening_is_recognised_field_by_field():
    from backend.monitoring.lifecycle import loosened

    base = {"cumulative_abs": 30.0, "rate_per_day": 3.0, "warning_ratio": 0.7, "consecutive_count": 3,
            "clear_after": 2, "rate_min_span_s": 43200.0}
    assert loosened(base, {**base, "cumulative_abs": 25.0}) == []
    assert loosened(base, {**base, "cumulative_abs": 35.0}) == ["cumulative_abs"]
    assert loosened(base, {**base, "rate_per_day": None}) == ["rate_per_day"]
    assert loosened(base, {**base, "warning_ratio": 0.8}) == ["warning_ratio"]
    assert loosened(base, {**base, "consecutive_count": 0}) == ["consecutive_count"]
    assert loosened(base, {**base, "consecutive_count": 2}) == []
    assert loosened(base, {**base, "clear_after": 1}) == ["clear_after"]
    assert loosened(base, {**base, "rate_min_span_s": 86400.0}) == ["rate_min_span_s"]
    assert loosened(base, {**base, "design_value": 900.0}) == []  # a new limit only tightens


def test_a_frequent_sensor_counts_its_daily_rate_once_a_day():
    # 3 mm/d limit, counted above 70 % (2.1 mm/d) three windows (days) running: a 10-minute sensor moving
    # 2.4 mm/d is counted once a day, so the count alarms on day 3 of the movement, not after 30 minutes.
    t = Thresholds(cumulative_abs=1000, rate_per_day=3, warning_ratio=0.9, consecutive_count=3)
    state, first_alarm = RuleState(), None
    for i in range(6 * 144):
        e = step(state, t, i * 600.0, 2.4 * i / 144)
        if e.level == Level.ALARM and first_alarm is None:
            first_alarm = i * 600.0 / DAY_S
    assert first_alarm is not None and 3.0 <= first_alarm < 3.1


def test_long_window_least_squares_by_running_sums_equals_the_direct_fit():
    import random

    rng = random.Random(50497)
    t = Thresholds(cumulative_abs=1e6, rate_per_day=1e6, rate_method="lsq", rate_min_span_s=0.0, consecutive_count=0)
    state, ts, v = RuleState(), 1.78e9, 0.0
    for _ in range(6000):  # a 30-second sensor over two days: windows of ~2,880 readings, sums kept step by step
        ts += rng.uniform(20.0, 40.0)
        v += rng.gauss(0.001, 0.05)
        e = step(state, t, ts, v)
    direct = rate_over_window(list(state.window), 0.0, 0.0, "lsq")
    assert len(state.window) > 2000 and e.rate_per_day == pytest.approx(direct, rel=1e-9, abs=1e-9)
