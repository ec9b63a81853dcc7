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
    t = Thresholds(cumulative_abs=100, rate_per_day=3, consecutive_count=0)
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
