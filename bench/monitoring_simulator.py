"""Device simulator figures (issue 18): false alarms per 1,000 sensor-days on safe series, and readings from a
true threshold crossing to the alarm, per metric, with the shipped default rules beside the old rule.

    .venv/bin/python bench/monitoring_simulator.py [--sensors 30] [--days 7]

Series (tests/support/simulator.py): every metric at 1-minute, 10-minute and hourly intervals, noise at the
instrument's resolution, slow drift, a daily temperature cycle, gaps (lost and backlogged), bursts, clock
skew (now and then an hour ahead), duplicates; judged as the ingest judges them (rules.step on the worker's
path). "old rule": the rate between the window's first and last reading over any span, no dead band — the
rule before issue 18. Goals: 0 false alarms at warning and above; the alarm at the crossing reading (a
perfect instrument of the sensor's resolution first showing the alarm value; "noise": the same with the
measurement noise, where the noisy reading reaches the value earlier — negative — or later).
Pure CPU (no services); a few seconds per metric.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.monitoring.rules import Level  # noqa: E402
from tests.support.simulator import MODELS, first_true_crossing, judge, series, thresholds_for  # noqa: E402


def false_alarms(metric: str, sensors: int, days: float, old: bool, **variant: object) -> tuple[float, int]:
    t = replace(thresholds_for(metric), **variant)
    if old:
        t = replace(t, rate_min_span_s=0.0, resolution=None, consecutive_count=3, rate_method="endpoints")
    rises, sensor_days = 0, 0.0
    for seed in range(sensors):
        interval = (60.0, 600.0, 3600.0)[seed % 3]
        out = judge(series(metric, days=days, interval_s=interval, seed=seed), t)
        rises += sum(1 for _, level, _ in out.rises if level >= Level.WARNING)
        sensor_days += days
    return 1000.0 * rises / sensor_days, rises


def crossing_delays(metric: str, sensors: int, noise: bool) -> list[int]:
    t = thresholds_for(metric)
    push = 0.4 * t.rate_per_day if t.rate_per_day else t.limit * 1.2 / 3
    days = 2.0 + t.limit * 2.0 / push + 1.0
    out = []
    for seed in range(sensors):
        reports = series(metric, days=days, interval_s=600.0, seed=1000 + seed, crossing_rate_per_day=push,
                         crossing_after_days=2.0, realistic=False, noise=noise)
        crossing = first_true_crossing(reports, t, MODELS[metric].resolution)
        alarms = [i for i, level, _ in judge(reports, t).rises if level >= Level.ALARM]
        if crossing is not None and alarms:
            out.append(alarms[0] - crossing)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensors", type=int, default=30)
    ap.add_argument("--days", type=float, default=7.0)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; {args.sensors} sensors × {args.days:g} days per metric")
    print(f"{'metric':22} {'false alarms/1000 sensor-days (≥ warning)':>44} {'crossing → alarm, readings':>40}")
    print(f"{'':22} {'shipped':>12} {'old rule':>12} {'':>18} {'no noise':>18} {'noise':>20}")
    t0 = time.perf_counter()
    for metric in MODELS:
        new, _ = false_alarms(metric, args.sensors, args.days, old=False)
        old, _ = false_alarms(metric, args.sensors, args.days, old=True)
        clean = crossing_delays(metric, 10, noise=False)
        noisy = crossing_delays(metric, 10, noise=True)

        def fmt(d: list[int]) -> str:
            if not d:
                return "-"
            return f"median {statistics.median(d):+g} [{min(d):+d}, {max(d):+d}]"

        print(f"{metric:22} {new:12.1f} {old:12.1f} {'':>18} {fmt(clean):>18} {fmt(noisy):>20}")
    print("rate method and minimum span (the shipped default: endpoints over ≥ 1 day), false alarms/1000 sensor-days:")
    for metric in ("wall_top_horizontal", "wall_top_vertical"):
        row = []
        for method in ("endpoints", "lsq"):
            for span_h in (12, 24):
                rate, _ = false_alarms(metric, args.sensors, args.days, old=False, rate_method=method,
                                       rate_min_span_s=span_h * 3600.0)
                row.append(f"{method} ≥{span_h} h: {rate:.1f}")
        print(f"  {metric:22} " + "; ".join(row))
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
