"""Alarm rules for monitored dangerous works (pure): levels, OR of conditions, counts, hysteresis, silence.

GB 50497-2019 §8.0.3: a warning value gives both a cumulative value and a rate of change, and either
one exceeded raises the alarm ("cumulative OR rate"); the cumulative limit is the smaller of the
absolute value and the percentage of the design excavation depth (Table 8.0.4); a rate above 70 % of
its limit three times running also alarms (as third-party implementations read the table notes).
Alarm values come from the project's approved plan (§8.0.1); defaults only fill gaps and say so.

``evaluate(state, thresholds, ts, value)`` is pure: it returns the next state and leaves the given one
alone. ``step`` is the same rule applied in place, for the ingest worker, which keeps each sensor's
state in memory between batches and stores only its scalars (``RuleState.to_json``); the rate window
is the sensor's own stored readings, so a restart rebuilds it from ``monitoring_readings`` and resumes
baselines, windows and counters exactly where they were.
ThingsBoard's gaps this closes: hysteresis on clearing, OR conditions, durable state, level changes
only (no spam), and a "sensor silent" alarm.

The rate (docs/MONITORING_RULES.md): the change per day between the first and the last reading of the rate
window (``endpoints``, the default; or the least-squares slope, ``lsq``) — the window is every reading not
older than ``rate_window_s`` before the newest, plus the newest one at or before that edge, so a sparse
sensor is measured against its previous observation and a frequent one against the same time yesterday
(which cancels the daily temperature cycle, see the simulator figures). No rate verdict at all
while that span is shorter than ``rate_min_span_s`` (a reading two seconds after another says nothing
about mm/d), and a fitted change within the dead band (``dead_band_steps`` × the sensor's resolution over
the span) counts as no change. Cumulative values are measured from the baseline (the first reading, or
the one set by hand, audited by the service); forces and stresses have their limit as a share of the
design value (GB 50497-2019 Table 8.0.4: support axial force a percentage of the design value).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

DAY_S = 86_400.0
DEFAULT_RATE_MIN_SPAN_S = DAY_S  # docs/MONITORING_RULES.md: why a whole day (the daily temperature cycle)
LSQ_PURE_MAX = 48  # windows up to this many readings: the slope in plain Python (numpy's set-up costs more)


class Level(IntEnum):
    NORMAL = 0  # 正常
    WARNING = 1  # 预警
    ALARM = 2  # 报警
    DANGER = 3  # 危险报警


LEVEL_ZH = {Level.NORMAL: "正常", Level.WARNING: "预警", Level.ALARM: "报警", Level.DANGER: "危险"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """One monitoring point's alarm values (from the special plan; ``source`` says where from)."""

    cumulative_abs: float | None = None  # e.g. mm
    cumulative_pct_of_depth: float | None = None  # % of the design excavation depth H
    design_depth: float | None = None  # H, same unit as cumulative_abs
    rate_per_day: float | None = None  # e.g. mm/d
    rate_window_s: float = DAY_S  # the rate is measured over this window
    rate_min_span_s: float = DEFAULT_RATE_MIN_SPAN_S  # no rate verdict over a shorter span (capped at the window)
    rate_method: str = "endpoints"  # endpoints (first and last reading of the window) | lsq (least-squares slope)
    resolution: float | None = None  # the sensor's resolution, in the reading's unit
    dead_band_steps: float = 2.0  # a fitted change within this many resolution steps is no change
    design_value: float | None = None  # forces / stresses: the design value (e.g. kN) …
    design_share: float | None = None  # … and the alarm value as its share (0.7 = 70 %)
    warning_ratio: float = 0.7  # warning at this share of the alarm value (the plan's percentage)
    danger_ratio: float | None = None  # danger at this multiple of the alarm value (plan-defined), if any
    consecutive_rate_ratio: float = 0.7  # a rate above this share of its limit …
    consecutive_count: int = 3  # … this many rate windows (days) running also alarms (0: off); one count per window
    hysteresis: float = 0.1  # a level clears only below (1 − hysteresis) of its threshold …
    clear_after: int = 2  # … for this many readings running
    silent_after_s: float | None = None  # no reading for this long: the sensor is silent
    source: str = "plan"  # plan | default
    # Derived once (not a setting): the cumulative limit, read for every reading.
    limit: float | None = field(init=False, repr=False, compare=False, default=None)
    min_span: float = field(init=False, repr=False, compare=False, default=0.0)
    dead_band: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit", self.cumulative_limit())
        object.__setattr__(self, "min_span", min(self.rate_min_span_s, self.rate_window_s))
        object.__setattr__(self, "dead_band", (self.resolution or 0.0) * self.dead_band_steps)

    def cumulative_limit(self) -> float | None:
        """The smallest of the absolute value, the percentage of depth (GB 50497 Table 8.0.4: "the smaller
        of the two") and, for forces, the share of the design value."""
        limit = self.cumulative_abs
        if self.cumulative_pct_of_depth is not None and self.design_depth is not None:
            by_depth = self.cumulative_pct_of_depth / 100.0 * self.design_depth
            limit = by_depth if limit is None else min(limit, by_depth)
        if self.design_value is not None and self.design_share is not None:
            by_design = self.design_share * abs(self.design_value)
            limit = by_design if limit is None else min(limit, by_design)
        return limit


@dataclass(slots=True)
class RuleState:
    """Everything a rule remembers between readings; ``step`` changes it in place, ``evaluate`` on a copy."""

    baseline: float | None = None
    last_ts: float | None = None
    last_value: float | None = None
    window: deque[tuple[float, float]] = field(default_factory=deque)  # (ts, value) inside the rate window
    consecutive_over: int = 0
    below_count: int = 0
    level: Level = Level.NORMAL
    over_counted_ts: float | None = None  # when consecutive_over last rose (it rises at most once a rate window)
    # Running least-squares sums over the window [t0, v0, n, Σx, Σy, Σxx, Σxy] (x in days from t0, y from v0),
    # kept by ``step`` for long windows; None: recomputed from the window when next needed. Not state.
    sums: list[float] | None = field(default=None, compare=False, repr=False)

    def copy(self) -> RuleState:
        return RuleState(self.baseline, self.last_ts, self.last_value, deque(self.window), self.consecutive_over,
                         self.below_count, self.level, self.over_counted_ts, None if self.sums is None else list(self.sums))

    def to_json(self) -> dict:
        """The durable scalars (the window is not in them: it is the sensor's stored readings)."""
        return {
            "baseline": self.baseline,
            "last_ts": self.last_ts,
            "last_value": self.last_value,
            "consecutive_over": self.consecutive_over,
            "below_count": self.below_count,
            "level": int(self.level),
            "over_counted_ts": self.over_counted_ts,
        }

    @classmethod
    def from_json(cls, data: dict | None, window: Iterable[tuple[float, float]] = ()) -> RuleState:
        """Scalars as stored, plus the window: the readings since ``window_start`` (an older stored
        state may still carry its window inside; it is used when no window is given)."""
        data = data or {}
        if not window and data.get("window"):
            window = data["window"]
        return cls(
            baseline=data.get("baseline"),
            last_ts=data.get("last_ts"),
            last_value=data.get("last_value"),
            window=deque((float(t), float(v)) for t, v in window),
            consecutive_over=int(data.get("consecutive_over", 0)),
            below_count=int(data.get("below_count", 0)),
            level=Level(int(data.get("level", 0))),
            over_counted_ts=data.get("over_counted_ts"),
        )


def window_start(state_json: dict | None, t: Thresholds) -> float | None:
    """The oldest reading time the rate window can still need after a restart (None: nothing stored yet)."""
    last = (state_json or {}).get("last_ts")
    return None if last is None else float(last) - t.rate_window_s


class OutOfOrder(ValueError):
    """A reading older than the last one evaluated (dead-letter it; never evaluate it)."""


class Duplicate(ValueError):
    """The same reading again (QoS 1 redelivery): count it once."""


@dataclass(slots=True)
class Evaluation:
    state: RuleState
    previous: Level
    level: Level
    cumulative: float
    rate_per_day: float | None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return self.level != self.previous


def rate_over_window(window: Sequence[tuple[float, float]], min_span: float = 0.0, dead_band: float = 0.0,
                     method: str = "lsq") -> float | None:
    """|change| per day over the window — between its first and last reading (``endpoints``) or the
    least-squares slope (``lsq``); None: fewer than two readings or a span under ``min_span``; 0 when
    the (fitted) change over the span is within ``dead_band``."""
    n = len(window)
    if n < 2:
        return None
    t0 = window[0][0]
    span = window[-1][0] - t0
    if span <= 0 or span < min_span:
        return None
    if n == 2 or method == "endpoints":
        slope = (window[-1][1] - window[0][1]) / span
    elif n <= LSQ_PURE_MAX:
        v0 = window[0][1]
        st = sv = stt = stv = 0.0
        for t, v in window:
            x, y = (t - t0) / DAY_S, v - v0
            st += x
            sv += y
            stt += x * x
            stv += x * y
        den = n * stt - st * st
        slope = (n * stv - st * sv) / den / DAY_S if den > 0 else 0.0
    else:
        arr = np.array(window, np.float64)
        x = (arr[:, 0] - t0) / DAY_S
        y = arr[:, 1] - arr[0, 1]
        x -= x.mean()
        den = float((x * x).sum())
        slope = float((x * (y - y.mean())).sum()) / den / DAY_S if den > 0 else 0.0
    if abs(slope) * span <= dead_band:
        return 0.0
    return abs(slope) * DAY_S


def _sums_add(sums: list[float], ts: float, value: float, sign: float) -> None:
    x, y = (ts - sums[0]) / DAY_S, value - sums[1]
    sums[2] += sign
    sums[3] += sign * x
    sums[4] += sign * y
    sums[5] += sign * x * x
    sums[6] += sign * x * y


def _rate_by_sums(state: RuleState, t: Thresholds) -> float | None:
    """``rate_over_window`` for a long window from running sums (O(1) a reading; rebuilt when their origin
    falls three windows behind, so the sums stay small numbers and lose no digits)."""
    window = state.window
    t0 = window[0][0]
    span = window[-1][0] - t0
    if span <= 0 or span < t.min_span:
        return None
    sums = state.sums
    if sums is None or window[-1][0] - sums[0] > 3 * max(t.rate_window_s, span):
        arr = np.array(window, np.float64)
        x = (arr[:, 0] - t0) / DAY_S
        y = arr[:, 1] - arr[0, 1]
        sums = state.sums = [t0, float(arr[0, 1]), float(len(arr)), float(x.sum()), float(y.sum()),
                             float((x * x).sum()), float((x * y).sum())]
    _, _, n, sx, sy, sxx, sxy = sums
    den = n * sxx - sx * sx
    slope = (n * sxy - sx * sy) / den / DAY_S if den > 0 else 0.0
    if abs(slope) * span <= t.dead_band:
        return 0.0
    return abs(slope) * DAY_S


def _ratios(t: Thresholds, cumulative: float, rate: float | None) -> tuple[float, float]:
    limit = t.limit
    c = cumulative / limit if limit else 0.0
    r = rate / t.rate_per_day if (rate is not None and t.rate_per_day) else 0.0
    return c, r


def level_for(t: Thresholds, cumulative: float, rate: float | None, consecutive_over: int, scale: float = 1.0) -> tuple[Level, tuple[str, ...]]:
    """The level these measurements reach; ``scale`` < 1 gives the (hysteresis) clearing thresholds."""
    c, r = _ratios(t, cumulative, rate)
    return _level(t, c, r, t.consecutive_count > 0 and consecutive_over >= t.consecutive_count, scale)


def _level(t: Thresholds, c: float, r: float, counted: bool, scale: float = 1.0) -> tuple[Level, tuple[str, ...]]:
    """``level_for`` on the cumulative and rate ratios (of their limits) and the consecutive count's verdict."""
    if t.danger_ratio is not None and (c >= t.danger_ratio * scale or r >= t.danger_ratio * scale):
        return Level.DANGER, tuple(x for x, hit in (("cumulative≥danger", c >= t.danger_ratio * scale),
                                                     ("rate≥danger", r >= t.danger_ratio * scale)) if hit)
    if c >= scale or r >= scale or counted:
        return Level.ALARM, tuple(x for x, hit in (("cumulative≥alarm", c >= scale), ("rate≥alarm", r >= scale),
                                                    (f"rate>{t.consecutive_rate_ratio:.0%}×{t.consecutive_count}", counted))
                                  if hit)
    if c >= t.warning_ratio * scale or r >= t.warning_ratio * scale:
        return Level.WARNING, tuple(x for x, hit in (("cumulative≥warning", c >= t.warning_ratio * scale),
                                                      ("rate≥warning", r >= t.warning_ratio * scale)) if hit)
    return Level.NORMAL, ()


def evaluate(state: RuleState, t: Thresholds, ts: float, value: float) -> Evaluation:
    """Take one reading (epoch seconds, value) and return the next state and level; ``state`` is untouched."""
    return step(state.copy(), t, ts, value)


def step(state: RuleState, t: Thresholds, ts: float, value: float) -> Evaluation:
    """``evaluate`` in place: ``state`` becomes the next state (unchanged when a reading is refused).

    Escalation is immediate; a lower level is taken only after ``clear_after`` readings running below
    ``(1 − hysteresis)`` of the current level's thresholds, so a value hovering at a threshold does not
    flap (and does not spam).
    """
    last = state.last_ts
    if last is not None and ts <= last:
        if ts < last:
            raise OutOfOrder(f"reading at {ts} is older than the last one at {last}")
        if value == state.last_value:
            raise Duplicate(f"reading at {ts} already evaluated")
        raise OutOfOrder(f"a second, different reading at {ts}")
    baseline = state.baseline
    if baseline is None:
        baseline = state.baseline = value
    # The window is in ts order (readings only ever append newer ones), so the expired part is a prefix;
    # the newest reading at or before the edge stays as the window's anchor.
    window, cutoff = state.window, ts - t.rate_window_s
    sums = state.sums
    while len(window) >= 2 and window[1][0] <= cutoff:
        old_t, old_v = window.popleft()
        if sums is not None:
            _sums_add(sums, old_t, old_v, -1.0)
    window.append((ts, value))
    if sums is not None:
        _sums_add(sums, ts, value, 1.0)
    cumulative = abs(value - baseline)
    if t.rate_method == "endpoints" or len(window) <= LSQ_PURE_MAX:
        rate = rate_over_window(window, t.min_span, t.dead_band, t.rate_method)
    else:
        rate = _rate_by_sums(state, t)
    c, r = _ratios(t, cumulative, rate)
    rpd = t.rate_per_day
    over = rate is not None and rpd is not None and rate > t.consecutive_rate_ratio * rpd
    # GB 50497-2009 read the count as days running ("连续3天"): a frequent sensor's daily rate is counted
    # once per rate window, not once per reading (30 readings in half an hour are not 3 days)
    counted_at = state.over_counted_ts
    if not over:
        consecutive, counted_at = 0, None
    elif counted_at is None or ts - counted_at >= t.rate_window_s:
        consecutive, counted_at = state.consecutive_over + 1, ts
    else:
        consecutive = state.consecutive_over
    counted = t.consecutive_count > 0 and consecutive >= t.consecutive_count
    previous = state.level
    raw, reasons = _level(t, c, r, counted)
    level, below = previous, 0
    if raw > previous:
        level = raw
    elif raw < previous:
        clearing, _ = _level(t, c, r, counted, 1.0 - t.hysteresis)
        if clearing < previous:
            below = state.below_count + 1
            if below >= t.clear_after:
                level, below = max(clearing, raw), 0
        reasons = reasons or ("holding until below the clearing threshold",)
    state.last_ts, state.last_value, state.consecutive_over, state.below_count, state.level = (
        ts, value, consecutive, below, level)
    state.over_counted_ts = counted_at
    return Evaluation(state, previous, level, cumulative, rate, reasons)


QUIET_RUN_MIN = 8  # shorter runs: the per-reading step is cheaper than the array set-up


def step_quiet_run(state: RuleState, t: Thresholds, ts: np.ndarray, values: np.ndarray) -> bool:
    """``step`` over a whole run of readings at once, for the common case in which nothing happens.

    Takes the run (and changes ``state`` exactly as ``step`` reading by reading would) only when the
    state is normal, every reading is newer than the one before it, and every reading's cumulative and
    rate ratios stay under the lowest threshold with no rate above the consecutive-count share: then
    each step would have left the level normal and the counters at zero. Otherwise returns False with
    ``state`` untouched, and the caller steps the readings one by one (which raises, counts and
    escalates as usual). ``ts`` epoch seconds and ``values`` float64, in arrival order.
    """
    n = len(ts)
    if state.level != Level.NORMAL or n < QUIET_RUN_MIN:
        return False
    last = state.last_ts
    if (last is not None and ts[0] <= last) or not (ts[1:] > ts[:-1]).all():
        return False
    baseline = values[0] if state.baseline is None else state.baseline
    window = state.window
    if window:  # the readings still inside the rate window of the first new one matter for its rate
        times = np.concatenate((np.fromiter((w[0] for w in window), np.float64, len(window)), ts))
        vals = np.concatenate((np.fromiter((w[1] for w in window), np.float64, len(window)), values))
    else:
        times, vals = ts, values
    # each new reading's window starts at the newest reading at or before rate_window_s before it (as step pops)
    k = len(times) - len(ts)  # index of the first new reading in times
    first = np.maximum(np.searchsorted(times, ts - t.rate_window_s, side="right") - 1, 0)
    first = np.minimum(first, np.arange(k, k + len(ts)))
    span = ts - times[first]
    # step's rate: None for a span under the minimum; a borderline span is counted (only ever refuses more)
    has_rate = (span > 0) & (span >= t.min_span * (1 - 1e-12))
    lo = min(t.warning_ratio, 1.0, t.danger_ratio if t.danger_ratio is not None else math.inf)
    if lo <= 0:  # a zero ratio of a zero measure already reaches it: not quiet
        return False
    margin = 1.0 - 1e-9  # rounding between the two slope computations can never make a run wrongly quiet
    if t.limit and (np.abs(values - baseline) / t.limit >= lo * margin).any():
        return False
    rpd = t.rate_per_day
    if has_rate.any() and rpd is not None and t.rate_method == "endpoints":
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.abs(values - vals[first]) / (span / DAY_S)
        rate = rate[has_rate]
        if rpd and (rate / rpd >= lo * margin).any():
            return False
        if (rate > t.consecutive_rate_ratio * rpd * margin).any():
            return False
    elif has_rate.any() and rpd is not None:
        # the least-squares slope of each window from prefix sums (times in days from the run's start: small
        # numbers, no cancellation worth a digit); the dead band is left out, so this rate is ≥ step's
        x = (times - times[0]) / DAY_S
        y = vals - vals[0]
        zero = np.zeros(1)
        c1 = np.concatenate((zero, np.cumsum(np.ones_like(x))))
        cx, cy = np.concatenate((zero, np.cumsum(x))), np.concatenate((zero, np.cumsum(y)))
        cxx, cxy = np.concatenate((zero, np.cumsum(x * x))), np.concatenate((zero, np.cumsum(x * y)))
        end = np.arange(k, k + len(ts)) + 1
        n = c1[end] - c1[first]
        sx, sy, sxx, sxy = cx[end] - cx[first], cy[end] - cy[first], cxx[end] - cxx[first], cxy[end] - cxy[first]
        den = n * sxx - sx * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.abs(np.where(den > 0, (n * sxy - sx * sy) / den, 0.0))
        rate = rate[has_rate]
        if not np.isfinite(rate).all():
            return False
        if rpd and (rate / rpd >= lo * margin).any():
            return False
        if (rate > t.consecutive_rate_ratio * rpd * margin).any():
            return False
    if state.baseline is None:
        state.baseline = float(baseline)
    tail = first[-1]
    state.window = deque(zip(times[tail:].tolist(), vals[tail:].tolist(), strict=True))
    state.sums = None
    state.last_ts, state.last_value = float(ts[-1]), float(values[-1])
    state.consecutive_over = state.below_count = 0
    state.over_counted_ts = None
    return True


def is_silent(state: RuleState, t: Thresholds, now: float) -> bool:
    """No reading for longer than the allowed gap (a silent sensor is not a safe structure)."""
    if t.silent_after_s is None:
        return False
    last = state.last_ts
    return last is not None and now - last > t.silent_after_s
