"""A device simulator for monitoring (issue 18): realistic series per metric and the ingest's judgement of them.

Each simulated sensor reports at its real interval for a number of days; its values are a base, a slow
drift, a daily temperature cycle (a wall top or a steel strut moves with the sun: peak mid-afternoon),
noise quantised to the instrument's resolution; its reports have gaps (a dead battery, a lost link),
bursts (the backlog uploaded in one go after a gap), a device clock off by seconds (now and then by an
hour: readings stamped in the future) and duplicates (QoS 1 redelivery). ``judge`` feeds the reports in
arrival order through what the ingest does with each (future stamp refused, duplicate dropped, late
reading judged alone on its cumulative value, the rest ``rules.step``) and counts level rises.

Used by ``bench/monitoring_simulator.py`` (figures: false alarms per 1,000 sensor-days on safe series,
readings from a true crossing to the alarm) and ``tests/monitoring/test_simulator.py``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from backend.monitoring.classify import resolve_thresholds
from backend.monitoring.ingest import thresholds_of
from backend.monitoring.rules import DAY_S, Level, RuleState, Thresholds, level_for, step

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class MetricModel:
    """How one metric behaves on a safe site (units of the reading)."""

    resolution: float
    noise_sd: float  # measurement noise, before quantising
    drift_per_day: float  # the largest slow trend of a safe structure (either sign)
    thermal_amp: float  # daily cycle amplitude
    base: float = 0.0  # the reading at installation (forces: the preload)
    design_value: float | None = None  # forces: the plan's design value


# Safe behaviour, from the limits' own scale: drift well under the rate limit's warning share, the daily
# cycle of a wall top ±0.6 mm (prism on a sunlit capping beam), of a steel strut ±4 % of its design force.
MODELS: dict[str, MetricModel] = {
    "wall_top_horizontal": MetricModel(0.1, 0.15, 0.4, 0.6),
    "wall_top_vertical": MetricModel(0.1, 0.1, 0.3, 0.4),
    "deep_horizontal": MetricModel(0.1, 0.1, 0.4, 0.2),
    "column_vertical": MetricModel(0.1, 0.1, 0.3, 0.3),
    "ground_settlement": MetricModel(0.1, 0.15, 0.3, 0.3),
    "groundwater_level": MetricModel(10.0, 15.0, 60.0, 30.0),
    "support_axial_force": MetricModel(1.0, 3.0, 8.0, 40.0, base=350.0, design_value=1000.0),
}


@dataclass(frozen=True, slots=True)
class Report:
    ts: float  # the device's stamp
    value: float
    arrival: float  # when the broker handed it over
    true_value: float  # noise-free (for the crossing figure)


@dataclass(slots=True)
class Outcome:
    rises: list[tuple[int, Level, str]] = field(default_factory=list)  # (report index, level, first reason)
    refused_future: int = 0
    duplicates: int = 0
    late: int = 0
    evaluated: int = 0


def thresholds_for(metric: str, depth_m: float = 12.0, interval_s: float = 600.0) -> Thresholds:
    """The thresholds a sensor of this metric gets from a plan that gives no values (the defaults)."""
    model = MODELS[metric]
    plan = {metric: {"design_value": model.design_value}} if model.design_value else {}
    values, _ = resolve_thresholds(metric, plan, depth_m, interval_s, 3)
    return thresholds_of(values)


def series(metric: str, *, days: float, interval_s: float, seed: int, start: float = 1.78e9,
           crossing_rate_per_day: float | None = None, crossing_after_days: float = 0.0,
           realistic: bool = True, noise: bool = True) -> list[Report]:
    """One sensor's reports in arrival order. ``crossing_rate_per_day``: from ``crossing_after_days`` on the
    structure really moves at this rate (an unsafe series); otherwise it stays safe. ``realistic`` False: no
    clock skew, gaps, bursts or duplicates; ``noise`` False: only the resolution's quantisation."""
    m = MODELS[metric]
    rng = random.Random(seed)
    start += rng.uniform(0.0, DAY_S)  # sensors start at any time of day
    drift = rng.uniform(-m.drift_per_day, m.drift_per_day)
    phase = rng.uniform(-1.0, 1.0) * HOUR  # sun and site differ a little
    skew = rng.gauss(0.0, 20.0) if realistic else 0.0  # the device clock, seconds off
    out: list[Report] = []
    backlog: list[Report] = []
    backlog_until = lost_until = -1.0
    n = int(days * DAY_S / interval_s)
    for k in range(n):
        t = start + k * interval_s + (rng.uniform(-2.0, 2.0) if realistic else 0.0)
        elapsed = (t - start) / DAY_S
        true = m.base + drift * elapsed + m.thermal_amp * math.sin(2 * math.pi * ((t + phase) / DAY_S - 14 / 24 + 0.25))
        if crossing_rate_per_day is not None and elapsed > crossing_after_days:
            true += crossing_rate_per_day * (elapsed - crossing_after_days)
        measured = round((true + (rng.gauss(0.0, m.noise_sd) if noise else 0.0)) / m.resolution) * m.resolution
        stamp = t + skew
        if realistic and rng.random() < 0.0005:
            stamp = t + HOUR  # a clock that jumped an hour ahead (refused: future stamp)
        report = Report(round(stamp, 3), round(measured, 6), t + rng.uniform(0.05, 1.5), true)
        if t < lost_until:  # a dead battery: nothing measured
            continue
        if t < backlog_until:  # a link outage: kept on the device …
            backlog.append(report)
            continue
        if backlog:  # … and uploaded in one burst when the link is back
            out.extend(Report(r.ts, r.value, t, r.true_value) for r in backlog)
            backlog.clear()
        if realistic and rng.random() < 0.003:
            if rng.random() < 0.3:
                lost_until = t + rng.uniform(1.0, 8.0) * HOUR
            else:
                backlog_until = t + rng.uniform(1.0, 8.0) * HOUR
        out.append(report)
        if realistic and rng.random() < 0.01:  # QoS 1 redelivery
            out.append(Report(report.ts, report.value, report.arrival + rng.uniform(0.1, 5.0), true))
    out.extend(backlog)
    out.sort(key=lambda r: r.arrival)
    return out


def judge(reports: list[Report], t: Thresholds, *, max_skew_s: float = 300.0) -> Outcome:
    """What the ingest does with these reports, in arrival order (see the module docstring)."""
    state = RuleState(baseline=0.0) if t.design_value is not None else RuleState()  # forces: the gauge's zero
    seen: set[float] = set()
    out = Outcome()
    for i, r in enumerate(reports):
        if r.ts > r.arrival + max_skew_s:
            out.refused_future += 1
            continue
        if r.ts in seen:
            out.duplicates += 1
            continue
        seen.add(r.ts)
        if state.last_ts is not None and r.ts < state.last_ts:
            out.late += 1
            base = state.baseline if state.baseline is not None else r.value
            level, reasons = level_for(t, abs(r.value - base), None, 0)
            if level > state.level:
                out.rises.append((i, level, (reasons or ("late",))[0]))
                state.level = level
            continue
        ev = step(state, t, r.ts, r.value)
        out.evaluated += 1
        if ev.level > ev.previous:
            out.rises.append((i, ev.level, ev.reasons[0] if ev.reasons else ""))
    return out


def first_true_crossing(reports: list[Report], t: Thresholds, resolution: float) -> int | None:
    """Index of the first report at which a perfect instrument of this resolution (the noise-free value,
    rounded to the resolution, from the same rounded baseline) reaches the alarm value."""
    if not reports or t.limit is None:
        return None

    def q(x: float) -> float:
        return round(x / resolution) * resolution

    base = 0.0 if t.design_value is not None else q(reports[0].true_value)
    for i, r in enumerate(reports):
        if abs(q(r.true_value) - base) >= t.limit - 1e-9:
            return i
    return None
