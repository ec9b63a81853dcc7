"""Classification of dangerous works (危大工程) per 建办质〔2018〕31号, and default alarm values (pure).

31号 附件1/附件2: a foundation pit ≥3 m is 危大 (needs a special plan), ≥5 m or with complex geology /
surroundings is 超过一定规模 (the plan also needs expert review); formwork support by height, span, area
load and line load; tool-type formwork is always 超规模; ground-supported scaffolding ≥24 m / ≥50 m.
Default alarm values (GB 50497-2019 Table 8.0.4 pattern, DBJ/T 15-197-2020 for high formwork) only
fill gaps the plan leaves and are marked as defaults: the designer sets the values (GB 50497 §8.0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    FOUNDATION_PIT = "foundation_pit"  # 基坑工程
    FORMWORK_SUPPORT = "formwork_support"  # 模板工程及支撑体系
    TOOL_FORMWORK = "tool_formwork"  # 工具式模板（滑模、爬模、飞模、隧道模）
    SCAFFOLDING = "scaffolding"  # 脚手架工程


class Classification(StrEnum):
    NONE = "none"  # below the 危大 thresholds
    MAJOR = "major"  # 危大工程
    BEYOND_SCALE = "beyond_scale"  # 超过一定规模的危大工程


# kind → parameter → (危大 threshold, 超规模 threshold); a value at or above the threshold qualifies.
THRESHOLDS: dict[Kind, dict[str, tuple[float, float]]] = {
    Kind.FOUNDATION_PIT: {"excavation_depth_m": (3.0, 5.0)},
    Kind.FORMWORK_SUPPORT: {
        "height_m": (5.0, 8.0),
        "span_m": (10.0, 18.0),
        "load_kn_m2": (10.0, 15.0),
        "line_load_kn_m": (15.0, 20.0),
    },
    Kind.SCAFFOLDING: {"height_m": (24.0, 50.0)},
    Kind.TOOL_FORMWORK: {},
}
PARAMETERS = {k: set(v) | ({"complex_conditions"} if k == Kind.FOUNDATION_PIT else set()) for k, v in THRESHOLDS.items()}


@dataclass(frozen=True, slots=True)
class Verdict:
    classification: Classification
    reasons: tuple[str, ...]


def classify(kind: Kind, parameters: dict[str, Any]) -> Verdict:
    """危大 vs 超过一定规模 for these parameters (the stricter class any parameter reaches wins)."""
    if kind == Kind.TOOL_FORMWORK:
        return Verdict(Classification.BEYOND_SCALE, ("tool_formwork: always beyond scale",))
    major: list[str] = []
    beyond: list[str] = []
    for name, (lo, hi) in THRESHOLDS[kind].items():
        value = parameters.get(name)
        if value is None:
            continue
        if value >= hi:
            beyond.append(f"{name}={value:g}≥{hi:g}")
        elif value >= lo:
            major.append(f"{name}={value:g}≥{lo:g}")
    if kind == Kind.FOUNDATION_PIT and parameters.get("complex_conditions"):
        # <3 m with complex conditions is 危大; <5 m with complex conditions is already 超规模.
        beyond.append("complex geology/surroundings")
    if beyond:
        return Verdict(Classification.BEYOND_SCALE, tuple(beyond + major))
    if major:
        return Verdict(Classification.MAJOR, tuple(major))
    return Verdict(Classification.NONE, ())


# Metrics a sensor may measure, per kind, with the unit of its readings.
METRICS: dict[str, str] = {
    "wall_top_horizontal": "mm",  # 围护墙顶部水平位移
    "wall_top_vertical": "mm",  # 围护墙顶部竖向位移
    "deep_horizontal": "mm",  # 深层水平位移
    "column_vertical": "mm",  # 立柱竖向位移
    "ground_settlement": "mm",  # 周边地表竖向位移
    "groundwater_level": "mm",  # 地下水位
    "support_axial_force": "kN",  # 支撑轴力
    "formwork_horizontal": "mm",  # 支架水平位移
    "formwork_settlement": "mm",  # 模板沉降
    "formwork_tilt": "permille",  # 立杆倾角 ‰
    "upright_axial_force": "kN",  # 立杆轴力
}

# Defaults (only to fill gaps). Pit values: a typical approved plan quoted in standards.md (grade-1 pile
# support: wall-top 30 mm / 0.3 %H / 3 mm/d, warning at 70 %); formwork: DBJ/T 15-197-2020 Table 8.0.4
# (warning at 80 %). Forces have no default limit: they are a share of the design value (GB 50497-2019
# Table 8.0.4), which only the plan knows; the share defaults to 70 % (the table's grade-1 60–70 %, upper end).
# Every metric also gets its instrument resolution (the rate's dead band) and the minimum span of a rate
# verdict; the sources and the reasoning are in docs/MONITORING_RULES.md.
_DAY = 86_400.0
DEFAULTS: dict[str, dict[str, float]] = {
    "wall_top_horizontal": {"cumulative_abs": 30.0, "cumulative_pct_of_depth": 0.3, "rate_per_day": 3.0, "warning_ratio": 0.7},
    "wall_top_vertical": {"cumulative_abs": 20.0, "cumulative_pct_of_depth": 0.2, "rate_per_day": 2.0, "warning_ratio": 0.7},
    "deep_horizontal": {"cumulative_abs": 40.0, "cumulative_pct_of_depth": 0.4, "rate_per_day": 3.0, "warning_ratio": 0.7},
    "column_vertical": {"cumulative_abs": 40.0, "rate_per_day": 2.0, "warning_ratio": 0.7},
    "ground_settlement": {"cumulative_abs": 20.0, "rate_per_day": 2.0, "warning_ratio": 0.7},
    "groundwater_level": {"cumulative_abs": 1000.0, "rate_per_day": 500.0, "warning_ratio": 0.7},
    "formwork_horizontal": {"cumulative_abs": 12.0, "warning_ratio": 0.8, "consecutive_count": 0},
    "formwork_settlement": {"cumulative_abs": 8.0, "warning_ratio": 0.8, "consecutive_count": 0},
    "formwork_tilt": {"cumulative_abs": 4.0, "warning_ratio": 0.8, "consecutive_count": 0},
    "support_axial_force": {"design_share": 0.7, "warning_ratio": 0.8, "consecutive_count": 0},
    "upright_axial_force": {"design_share": 0.7, "warning_ratio": 0.8, "consecutive_count": 0},
}
RESOLUTION: dict[str, float] = {  # the reading's unit; docs/MONITORING_RULES.md
    "wall_top_horizontal": 0.1, "wall_top_vertical": 0.1, "deep_horizontal": 0.1, "column_vertical": 0.1,
    "ground_settlement": 0.1, "groundwater_level": 10.0, "support_axial_force": 1.0, "formwork_horizontal": 0.1,
    "formwork_settlement": 0.1, "formwork_tilt": 0.01, "upright_axial_force": 0.1,
}
for _metric, _res in RESOLUTION.items():
    DEFAULTS.setdefault(_metric, {}).update({"resolution": _res, "rate_min_span_s": _DAY})
FORCE_METRICS = frozenset({"support_axial_force", "upright_axial_force"})  # the gauge reads the force: baseline 0

ALARM_FIELDS = (
    "cumulative_abs", "cumulative_pct_of_depth", "rate_per_day", "rate_window_s", "warning_ratio", "danger_ratio",
    "consecutive_rate_ratio", "consecutive_count", "hysteresis", "clear_after",
    "rate_min_span_s", "rate_method", "resolution", "dead_band_steps", "design_value", "design_share",
)
LIMIT_FIELDS = ("cumulative_abs", "cumulative_pct_of_depth", "rate_per_day", "design_value", "design_share",
                "danger_ratio", "warning_ratio")  # the fields that say how much is too much (edited with care)


class NoAlarmValue(ValueError):
    """Neither the plan nor a default gives this metric a cumulative or rate limit."""


def resolve_thresholds(metric: str, plan_values: dict[str, Any], design_depth_m: float | None,
                       interval_s: float, silent_after_missed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The sensor's rules.Thresholds fields and where each came from ("plan" or "default")."""
    plan = plan_values.get(metric) or {}
    defaults = DEFAULTS.get(metric, {})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in ALARM_FIELDS:
        if plan.get(name) is not None:
            values[name], sources[name] = plan[name], "plan"
        elif name in defaults:
            values[name], sources[name] = defaults[name], "default"
    by_design = values.get("design_value") is not None and values.get("design_share") is not None
    if values.get("cumulative_abs") is None and values.get("rate_per_day") is None and not by_design:
        raise NoAlarmValue(metric)
    if values.get("cumulative_pct_of_depth") is not None and design_depth_m:
        values["design_depth"] = design_depth_m * 1000.0  # %H is of the depth in the reading's unit (mm)
        sources["design_depth"] = "work"
    values["silent_after_s"] = float(interval_s) * silent_after_missed
    sources["silent_after_s"] = "sensor"
    values["source"] = "plan" if all(s != "default" for s in sources.values()) else "default"
    return values, sources
