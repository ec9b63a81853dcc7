"""Pure comparison of lab measurements with the standards (no I/O): each property → value, limit, clause, outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, getcontext
from enum import StrEnum

from backend.materials import standards as std
from backend.materials.standards import Limit, Op

getcontext().prec = 28


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_CHECKED = "not_checked"


class Verdict(StrEnum):
    PASS = "pass"  # every property checked and passed
    PARTIAL = "partial"  # nothing failed, some properties not checked
    FAIL = "fail"  # at least one property failed


@dataclass(frozen=True, slots=True)
class PropertyResult:
    prop: str
    name_zh: str
    value: Decimal | None
    op: Op
    limit: Decimal | None
    unit: str
    clause: str
    outcome: Outcome
    sample: int | None = None  # specimen number (rebar) when a report has several
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "property": self.prop, "name": self.name_zh,
            "value": None if self.value is None else float(round(self.value, 4)),
            "op": self.op.value, "limit": None if self.limit is None else float(round(self.limit, 4)),
            "unit": self.unit, "clause": self.clause, "result": self.outcome.value,
            "sample": self.sample, "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Judgement:
    standard: str
    grade: str
    method: str
    results: tuple[PropertyResult, ...]

    @property
    def verdict(self) -> Verdict:
        outcomes = {r.outcome for r in self.results}
        if Outcome.FAIL in outcomes:
            return Verdict.FAIL
        return Verdict.PARTIAL if Outcome.NOT_CHECKED in outcomes or not outcomes else Verdict.PASS

    @property
    def failures(self) -> list[PropertyResult]:
        return [r for r in self.results if r.outcome is Outcome.FAIL]


class UnknownGrade(ValueError):
    """The grade has no rule set."""


def dec(value: float | str | Decimal) -> Decimal:
    """Exact decimal of a reported number (floats through their shortest repr, so 0.1 stays 0.1)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def compare(value: Decimal | None, limit: Limit, *, sample: int | None = None,
            limit_value: Decimal | None = None, note: str = "") -> PropertyResult:
    """One property against one limit: at the limit passes; no limit or no value → not_checked."""
    bound = limit.value if limit_value is None else limit_value
    if bound is None:
        outcome, note = Outcome.NOT_CHECKED, note or "标准值无可靠来源，未判定"
    elif value is None:
        outcome, note = Outcome.NOT_CHECKED, note or "报告未给出该项"
    else:
        ok = value >= bound if limit.op is Op.GE else value <= bound
        outcome = Outcome.PASS if ok else Outcome.FAIL
    return PropertyResult(limit.prop, limit.name_zh, value, limit.op, bound, limit.unit, limit.clause, outcome,
                          sample, note)


def _get(measured: Mapping[str, object], key: str) -> Decimal | None:
    raw = measured.get(key)
    if isinstance(raw, bool):  # a qualitative test (bend, soundness): passed = 1
        return Decimal(1 if raw else 0)
    return None if raw is None else dec(raw)  # type: ignore[arg-type]


class ElongationType(StrEnum):
    A = "A"  # 断后伸长率
    AGT = "Agt"  # 最大力总延伸率


def rebar_diameter(spec: str) -> Decimal | None:
    """The nominal diameter written in a batch spec ("Ø25", "Φ32", "HRB400E 40mm"), or None."""
    import re

    m = re.search(r"(?:[ØΦφ⌀]|d\s*=?\s*)\s*(\d{1,2}(?:\.\d)?)", spec) or re.search(r"(\d{1,2})\s*mm", spec)
    return Decimal(m.group(1)) if m else None


def _elongation_limits(rule_set: std.RuleSet, specimens: Sequence[Mapping[str, object]],
                       declared: ElongationType | None) -> tuple[set[str], str]:
    """Which elongation property is judged (7.4.4): E grades Agt; else the declared type, else Agt when
    reported (the arbitration type), else A."""
    props = {lim.prop for lim in rule_set.limits}
    if "elongation" not in props:
        return {"max_force_elongation"}, ""
    if declared is not None:
        chosen = declared
        why = f"伸长率类型按约定取 {chosen.value}（{std.ELONGATION_TYPE_CLAUSE}）"
    elif any(s.get("max_force_elongation") is not None for s in specimens):
        chosen = ElongationType.AGT
        why = f"伸长率类型未约定，按仲裁类型 Agt 判定（{std.ELONGATION_TYPE_CLAUSE}）"
    else:
        chosen = ElongationType.A
        why = f"伸长率类型未约定，报告仅给出 A（{std.ELONGATION_TYPE_CLAUSE}）"
    return {"elongation" if chosen is ElongationType.A else "max_force_elongation"}, why


def _judge_a(value: Decimal | None, lim: Limit, diameter: Decimal | None, sample: int, why: str) -> PropertyResult:
    """A with the diameter allowance of 7.4.2; an unknown diameter judges only what every band agrees on."""
    if lim.value is None or value is None:
        return compare(value, lim, sample=sample, note=why)
    allowance = std.elongation_allowance(diameter)
    if allowance is not None:
        note = why + (f"；直径 {diameter} mm，A 可降低 {allowance}%（{std.ELONGATION_ALLOWANCE_CLAUSE}）"
                      if allowance else "")
        return compare(value, lim, sample=sample, limit_value=lim.value - allowance, note=note.lstrip("；"))
    if value >= lim.value:
        return compare(value, lim, sample=sample, note=why)
    if value < lim.value - 2:
        return compare(value, lim, sample=sample, limit_value=lim.value - 2,
                       note=f"直径未知，按最大降低 2% 仍不合格（{std.ELONGATION_ALLOWANCE_CLAUSE}）")
    return PropertyResult(lim.prop, lim.name_zh, value, lim.op, lim.value, lim.unit, lim.clause, Outcome.NOT_CHECKED,
                          sample, f"直径未知，无法确定 {std.ELONGATION_ALLOWANCE_CLAUSE} 的降低值，未判定")


def judge_rebar(grade: str, specimens: Sequence[Mapping[str, object]], *, diameter_mm: Decimal | None = None,
                elongation_type: ElongationType | None = None) -> Judgement:
    """GB/T 1499.2-2018: every specimen's ReL, Rm, the chosen elongation (A with the diameter allowance, or Agt),
    for E grades the two ratios, and bending when reported."""
    rule_set = std.REBAR_RULE_SETS.get(grade)
    if rule_set is None:
        raise UnknownGrade(grade)
    nominal = next(lim.value for lim in rule_set.limits if lim.prop == "yield_strength")
    chosen, why = _elongation_limits(rule_set, specimens, elongation_type)
    skipped = {"elongation", "max_force_elongation"} - chosen
    results: list[PropertyResult] = []
    for i, spec in enumerate(specimens, start=1):
        derived: dict[str, Decimal | None] = {}
        rel, rm = _get(spec, "yield_strength"), _get(spec, "tensile_strength")
        # The ratios use the measured values (R°m, R°eL); the report's own ratio is not trusted.
        derived["tensile_to_yield"] = rm / rel if rm is not None and rel else None
        derived["yield_to_nominal"] = rel / nominal if rel is not None and nominal else None
        for lim in rule_set.limits:
            if lim.prop in skipped:
                continue
            value = derived[lim.prop] if lim.prop in derived else _get(spec, lim.prop)
            if value is None and not lim.required:
                continue
            if lim.prop == "elongation":
                results.append(_judge_a(value, lim, diameter_mm, i, why))
            else:
                results.append(compare(value, lim, sample=i, note=why if lim.prop == "max_force_elongation" else ""))
    return Judgement(rule_set.standard, grade, "specimens", tuple(results))


def judge_cement(grade: str, report_date: date, measured: Mapping[str, object]) -> Judgement:
    """GB 175: the edition in force on the report date; soundness must be reported as passed."""
    if grade not in std.CEMENT_RULE_SETS:
        raise UnknownGrade(grade)
    rule_set = std.cement_rule_set(grade, report_date)
    results = [compare(_get(measured, lim.prop), lim) for lim in rule_set.limits
               if lim.required or measured.get(lim.prop) is not None]
    sound = measured.get("soundness_ok")
    sound_limit = Limit("soundness_ok", "安定性（沸煮法）", Op.GE, Decimal(1), "",
                        std.soundness_clause(rule_set.standard), "[M + S] must pass")
    results.append(compare(None if sound is None else Decimal(1 if sound else 0), sound_limit))
    return Judgement(rule_set.standard, grade, f"by report date {report_date.isoformat()}", tuple(results))


class ConcreteMethod(StrEnum):
    STATISTICAL_KNOWN_SIGMA = "statistical_sigma0"  # 5.1.2: σ0 known, 3 consecutive groups
    STATISTICAL = "statistical"  # 5.1.3: n ≥ 10
    NON_STATISTICAL = "non_statistical"  # 5.2: n < 10


def concrete_fcuk(grade: str) -> int:
    if grade not in std.CONCRETE_GRADES:
        raise UnknownGrade(grade)
    return int(grade[1:])


def choose_concrete_method(n: int, sigma0: object | None) -> ConcreteMethod:
    """σ0 known and a lot of 3 groups → 5.1.2; ≥ 10 groups → 5.1.3; else non-statistical (5.2)."""
    if sigma0 is not None and n == 3:
        return ConcreteMethod.STATISTICAL_KNOWN_SIGMA
    return ConcreteMethod.STATISTICAL if n >= 10 else ConcreteMethod.NON_STATISTICAL


def _std_dev(values: Sequence[Decimal], mean: Decimal) -> Decimal:
    n = len(values)
    return (sum((v - mean) ** 2 for v in values) / (n - 1)).sqrt()  # GB/T 50107 式5.1.3-3 (n − 1)


def group_value(specimens: Sequence[object]) -> tuple[Decimal | None, str]:
    """A group's representative strength (GB/T 50107-2010 4.3.1): the mean of 3; the middle value when the max or
    the min is more than 15 % from it; None (the group is not used) when both are."""
    vals = sorted(dec(v) for v in specimens)  # type: ignore[arg-type]
    if len(vals) != 3:
        raise ValueError("a group has 3 specimens")
    lo, mid, hi = vals
    far_lo, far_hi = mid - lo > std.GROUP_SPREAD * mid, hi - mid > std.GROUP_SPREAD * mid
    if far_lo and far_hi:
        return None, "最大值和最小值与中间值之差均超过 15%，该组不作为评定依据"
    if far_lo or far_hi:
        return mid, "最大值或最小值与中间值之差超过 15%，取中间值"
    return sum(vals) / 3, ""


def judge_concrete(grade: str, groups: Sequence[object], sigma0: object | None = None,
                   method: ConcreteMethod | None = None) -> Judgement:
    """GB/T 50107-2010 over the groups (each a group's representative cube strength, MPa) of one inspection lot."""
    fcuk = dec(concrete_fcuk(grade))
    values = [dec(g) for g in groups]  # type: ignore[arg-type]
    if not values:
        raise ValueError("no groups")
    n = len(values)
    method = method or choose_concrete_method(n, sigma0)
    mean = sum(values) / n
    fmin = min(values)
    S, C = std.CONCRETE_STANDARD, std.CONCRETE_SRC
    results: list[PropertyResult] = []
    if method is ConcreteMethod.STATISTICAL_KNOWN_SIGMA:
        if sigma0 is None or n != 3:
            raise ValueError("method 5.1.2 needs σ0 and exactly 3 groups")
        sig = max(dec(sigma0), std.SIGMA_FLOOR)  # type: ignore[arg-type]
        ratio = Decimal("0.85") if fcuk <= 20 else Decimal("0.90")
        results += [
            compare(mean, Limit("mean", "强度平均值 mfcu", Op.GE, None, "MPa", f"{S} 5.1.2", C),
                    limit_value=fcuk + Decimal("0.7") * sig, note=f"fcu,k + 0.7σ0, σ0 = {sig}"),
            compare(fmin, Limit("min", "强度最小值 fcu,min", Op.GE, None, "MPa", f"{S} 5.1.2", C),
                    limit_value=fcuk - Decimal("0.7") * sig, note=f"fcu,k − 0.7σ0, σ0 = {sig}"),
            compare(fmin, Limit("min_ratio", "强度最小值 fcu,min", Op.GE, None, "MPa", f"{S} 5.1.2", C),
                    limit_value=ratio * fcuk, note=f"{ratio}·fcu,k"),
        ]
    elif method is ConcreteMethod.STATISTICAL:
        if n < 10:
            raise ValueError("method 5.1.3 needs at least 10 groups")
        lam1, lam2 = std.lambda_1_2(n)
        sd = max(_std_dev(values, mean), std.SIGMA_FLOOR)
        results += [
            compare(mean, Limit("mean", "强度平均值 mfcu", Op.GE, None, "MPa", f"{S} 5.1.3, 表5.1.3", C),
                    limit_value=fcuk + lam1 * sd, note=f"fcu,k + λ1·S, λ1 = {lam1}, S = {round(sd, 2)}"),
            compare(fmin, Limit("min", "强度最小值 fcu,min", Op.GE, None, "MPa", f"{S} 5.1.3, 表5.1.3", C),
                    limit_value=lam2 * fcuk, note=f"λ2·fcu,k, λ2 = {lam2}"),
        ]
    else:
        lam3, lam4 = std.lambda_3_4(int(fcuk))
        results += [
            compare(mean, Limit("mean", "强度平均值 mfcu", Op.GE, None, "MPa", f"{S} 5.2.2, 表5.2.2", C),
                    limit_value=lam3 * fcuk, note=f"λ3·fcu,k, λ3 = {lam3}"),
            compare(fmin, Limit("min", "强度最小值 fcu,min", Op.GE, None, "MPa", f"{S} 5.2.2, 表5.2.2", C),
                    limit_value=lam4 * fcuk, note=f"λ4·fcu,k, λ4 = {lam4}"),
        ]
    return Judgement(S, grade, method.value, tuple(results))


def judge_membrane(grade: str, measured: Mapping[str, object]) -> Judgement:
    """No membrane values are known from a source: every reported property is not checked."""
    lims = [Limit(k, k, Op.GE, None, "", std.MEMBRANE_STANDARD, "no source") for k in sorted(measured)]
    return Judgement(std.MEMBRANE_STANDARD, grade, "not checked", tuple(compare(_get(measured, lim.prop), lim)
                                                                       for lim in lims))
