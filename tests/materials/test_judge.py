"""Table-driven tests of the pure standards comparison: boundary values on both sides of every limit."""

from __future__ import annotations

from datetime import date

import pytest

from backend.materials import standards as std
from backend.materials.judge import (
    ConcreteMethod,
    Outcome,
    UnknownGrade,
    Verdict,
    choose_concrete_method,
    judge_cement,
    judge_concrete,
    judge_membrane,
    judge_rebar,
)

GOOD_400E = {"yield_strength": 430, "tensile_strength": 580, "max_force_elongation": 12.0}


def _result(j, prop, sample=1):
    return next(r for r in j.results if r.prop == prop and (r.sample in (sample, None)))


# grade, property, value, outcome (other properties of the specimen are good)
REBAR_CASES = [
    ("HRB400", "yield_strength", 400, Outcome.PASS),  # at the limit
    ("HRB400", "yield_strength", 399.5, Outcome.FAIL),
    ("HRB400", "yield_strength", 400.5, Outcome.PASS),
    ("HRB400", "tensile_strength", 540, Outcome.PASS),
    ("HRB400", "tensile_strength", 539.9, Outcome.FAIL),
    ("HRB400", "elongation", 16.0, Outcome.PASS),
    ("HRB400", "elongation", 15.5, Outcome.FAIL),
    ("HRB400", "elongation", 16.5, Outcome.PASS),
    ("HRB500", "yield_strength", 500, Outcome.PASS),
    ("HRB500", "yield_strength", 499, Outcome.FAIL),
    ("HRB500", "tensile_strength", 630, Outcome.PASS),
    ("HRB500", "tensile_strength", 629, Outcome.FAIL),
    ("HRB500", "elongation", 15.0, Outcome.PASS),
    ("HRB500", "elongation", 14.5, Outcome.FAIL),
    ("HRB400E", "max_force_elongation", 9.0, Outcome.PASS),
    ("HRB400E", "max_force_elongation", 8.9, Outcome.FAIL),
    ("HRB400E", "max_force_elongation", 9.1, Outcome.PASS),
    ("HRB500E", "max_force_elongation", 8.99, Outcome.FAIL),
]


@pytest.mark.parametrize(("grade", "prop", "value", "outcome"), REBAR_CASES)
def test_rebar_single_property(grade, prop, value, outcome):
    base = {"400": {"yield_strength": 430, "tensile_strength": 580, "elongation": 20, "max_force_elongation": 12},
            "500": {"yield_strength": 530, "tensile_strength": 680, "elongation": 20, "max_force_elongation": 12}}
    spec = dict(base["500" if "500" in grade else "400"])
    spec[prop] = value
    j = judge_rebar(grade, [spec])
    r = _result(j, prop)
    assert r.outcome is outcome
    assert r.clause == "GB/T 1499.2-2018 7.4.1 表6"
    assert r.limit is not None and float(r.value) == value


# ReL, Rm → strength ratio R°m/R°eL (≥ 1.25) and over-strength ratio R°eL/ReL (≤ 1.30) for HRB400E
RATIO_CASES = [
    (400, 500, "tensile_to_yield", Outcome.PASS),  # exactly 1.25
    (400, 499, "tensile_to_yield", Outcome.FAIL),  # 1.2475 (not rounded up)
    (400, 501, "tensile_to_yield", Outcome.PASS),
    (520, 680, "yield_to_nominal", Outcome.PASS),  # exactly 1.30
    (521, 680, "yield_to_nominal", Outcome.FAIL),  # 1.3025
    (519, 680, "yield_to_nominal", Outcome.PASS),
]


@pytest.mark.parametrize(("rel", "rm", "prop", "outcome"), RATIO_CASES)
def test_rebar_e_grade_ratios(rel, rm, prop, outcome):
    j = judge_rebar("HRB400E", [{"yield_strength": rel, "tensile_strength": rm, "max_force_elongation": 10}])
    r = _result(j, prop)
    assert r.outcome is outcome, r


def test_rebar_two_specimens_one_fails_fails_the_report():
    j = judge_rebar("HRB400E", [GOOD_400E, {**GOOD_400E, "tensile_strength": 520}])
    assert j.verdict is Verdict.FAIL
    assert {(f.prop, f.sample) for f in j.failures} == {("tensile_strength", 2), ("tensile_to_yield", 2)}


def test_rebar_good_e_grade_passes_and_has_no_elongation_a_rule():
    j = judge_rebar("HRB400E", [GOOD_400E, GOOD_400E])
    assert j.verdict is Verdict.PASS
    assert "elongation" not in {r.prop for r in j.results}


def test_rebar_non_e_agt_and_hrb600_unsourced_values_are_not_checked():
    j = judge_rebar("HRB400", [{"yield_strength": 450, "tensile_strength": 600, "elongation": 20,
                                "max_force_elongation": 1}])
    assert _result(j, "max_force_elongation").outcome is Outcome.NOT_CHECKED  # A_gt 7.5 is [M] only
    assert j.verdict is Verdict.PARTIAL
    j600 = judge_rebar("HRB600", [{"yield_strength": 599, "tensile_strength": 1}])
    assert _result(j600, "yield_strength").outcome is Outcome.FAIL
    assert _result(j600, "tensile_strength").outcome is Outcome.NOT_CHECKED


def test_rebar_missing_value_is_not_checked_and_unknown_grade_refused():
    j = judge_rebar("HRB400E", [{"yield_strength": 430, "max_force_elongation": 10}])
    assert _result(j, "tensile_strength").outcome is Outcome.NOT_CHECKED
    assert _result(j, "tensile_to_yield").outcome is Outcome.NOT_CHECKED
    with pytest.raises(UnknownGrade):
        judge_rebar("HRB335", [GOOD_400E])


GOOD_CEMENT = {"compressive_3d": 25, "compressive_28d": 48, "flexural_3d": 5, "flexural_28d": 8,
               "initial_setting_min": 120, "final_setting_min": 240, "chloride_pct": 0.02, "soundness_ok": True}
OLD, NEW = date(2024, 5, 31), date(2024, 6, 1)

CEMENT_CASES = [
    ("P·O 42.5", OLD, "compressive_3d", 17.0, Outcome.PASS),
    ("P·O 42.5", OLD, "compressive_3d", 16.9, Outcome.FAIL),
    ("P·O 42.5R", OLD, "compressive_3d", 22.0, Outcome.PASS),
    ("P·O 42.5R", OLD, "compressive_3d", 21.9, Outcome.FAIL),
    ("P·O 52.5", OLD, "compressive_28d", 52.5, Outcome.PASS),
    ("P·O 52.5", OLD, "compressive_28d", 52.4, Outcome.FAIL),
    ("P·O 52.5R", OLD, "flexural_3d", 5.0, Outcome.PASS),
    ("P·O 52.5R", OLD, "flexural_3d", 4.9, Outcome.FAIL),
    ("P·O 42.5", OLD, "flexural_28d", 6.5, Outcome.PASS),
    ("P·O 42.5", OLD, "flexural_28d", 6.4, Outcome.FAIL),
    ("P·O 42.5", OLD, "initial_setting_min", 45, Outcome.PASS),
    ("P·O 42.5", OLD, "initial_setting_min", 44, Outcome.FAIL),
    ("P·O 42.5", OLD, "final_setting_min", 600, Outcome.PASS),
    ("P·O 42.5", OLD, "final_setting_min", 601, Outcome.FAIL),
    ("P·O 42.5", OLD, "chloride_pct", 0.06, Outcome.PASS),
    ("P·O 42.5", OLD, "chloride_pct", 0.061, Outcome.FAIL),
    # GB 175-2023 from 2024-06-01: unknown values are not checked, never guessed
    ("P·O 42.5", NEW, "compressive_3d", 1.0, Outcome.NOT_CHECKED),
    ("P·O 42.5", NEW, "flexural_3d", 0.1, Outcome.NOT_CHECKED),
    ("P·O 42.5", NEW, "final_setting_min", 9999, Outcome.NOT_CHECKED),
    ("P·O 42.5", NEW, "compressive_28d", 42.5, Outcome.PASS),
    ("P·O 42.5", NEW, "compressive_28d", 42.4, Outcome.FAIL),
    ("P·O 52.5R", NEW, "compressive_28d", 52.4, Outcome.FAIL),
    ("P·O 42.5", NEW, "chloride_pct", 0.10, Outcome.PASS),
    ("P·O 42.5", NEW, "chloride_pct", 0.11, Outcome.FAIL),
    ("P·O 42.5", NEW, "chloride_pct", 0.09, Outcome.PASS),
]


@pytest.mark.parametrize(("grade", "day", "prop", "value", "outcome"), CEMENT_CASES)
def test_cement_property_by_report_date(grade, day, prop, value, outcome):
    j = judge_cement(grade, day, {**GOOD_CEMENT, prop: value})
    r = _result(j, prop)
    assert r.outcome is outcome, r
    assert r.clause.startswith("GB 175-2023" if day >= NEW else "GB 175-2007")
    assert j.standard == ("GB 175-2023" if day >= NEW else "GB 175-2007")


def test_cement_soundness_and_verdicts():
    assert judge_cement("P·O 42.5", OLD, GOOD_CEMENT).verdict is Verdict.PASS
    assert judge_cement("P·O 42.5", NEW, GOOD_CEMENT).verdict is Verdict.PARTIAL
    assert judge_cement("P·O 42.5", OLD, {**GOOD_CEMENT, "soundness_ok": False}).verdict is Verdict.FAIL
    assert _result(judge_cement("P·O 42.5", OLD, {"compressive_28d": 50}), "soundness_ok").outcome is Outcome.NOT_CHECKED
    with pytest.raises(UnknownGrade):
        judge_cement("P·C 32.5", OLD, GOOD_CEMENT)


# grade, groups, sigma0, property, outcome, limit
CONCRETE_CASES = [
    # 5.1.1, σ0 = 5: mean ≥ 30 + 3.5 = 33.5; min ≥ 30 − 3.5 = 26.5 and ≥ 0.90·30 = 27
    ("C30", [33.5, 33.5, 33.5], 5, "mean", Outcome.PASS, 33.5),
    ("C30", [33.4, 33.5, 33.5], 5, "mean", Outcome.FAIL, 33.5),
    ("C30", [27.0, 36.8, 36.8], 5, "min_ratio", Outcome.PASS, 27.0),
    ("C30", [26.9, 37.0, 37.0], 5, "min_ratio", Outcome.FAIL, 27.0),
    # C20: 0.85·20 = 17; σ0 below 2.5 is taken as 2.5 → mean ≥ 21.75, min ≥ 18.25
    ("C20", [21.75, 21.75, 21.75], 1.0, "mean", Outcome.PASS, 21.75),
    ("C20", [21.74, 21.75, 21.75], 1.0, "mean", Outcome.FAIL, 21.75),
    ("C20", [18.25, 23.5, 23.5], 1.0, "min", Outcome.PASS, 18.25),
    ("C20", [18.24, 23.5, 23.5], 1.0, "min", Outcome.FAIL, 18.25),
    # 5.1.2, n = 10, S floored at 2.5: mean ≥ 30 + 1.15·2.5 = 32.875; min ≥ 0.90·30 = 27
    ("C30", [32.875] * 10, None, "mean", Outcome.PASS, 32.875),
    ("C30", [32.874] * 10, None, "mean", Outcome.FAIL, 32.875),
    ("C30", [27.0] + [33.5] * 9, None, "min", Outcome.PASS, 27.0),
    ("C30", [26.99] + [33.5] * 9, None, "min", Outcome.FAIL, 27.0),
    # n = 15 → λ1 = 1.05, λ2 = 0.85; n = 20 → λ1 = 0.95
    ("C30", [32.625] * 15, None, "mean", Outcome.PASS, 32.625),
    ("C30", [32.62] * 15, None, "mean", Outcome.FAIL, 32.625),
    ("C30", [25.5] + [35] * 14, None, "min", Outcome.PASS, 25.5),
    ("C30", [25.49] + [35] * 14, None, "min", Outcome.FAIL, 25.5),
    ("C30", [32.375] * 20, None, "mean", Outcome.PASS, 32.375),
    ("C30", [32.37] * 20, None, "mean", Outcome.FAIL, 32.375),
    # non-statistical (n < 10): mean ≥ 1.15·fcu,k (< C60) or 1.10 (≥ C60); min ≥ 0.95·fcu,k
    ("C30", [34.5, 34.5], None, "mean", Outcome.PASS, 34.5),
    ("C30", [34.4, 34.5], None, "mean", Outcome.FAIL, 34.5),
    ("C30", [28.5, 40.5], None, "min", Outcome.PASS, 28.5),
    ("C30", [28.4, 40.6], None, "min", Outcome.FAIL, 28.5),
    ("C60", [66.0, 66.0, 66.0], None, "mean", Outcome.PASS, 66.0),
    ("C60", [65.9, 66.0, 66.0], None, "mean", Outcome.FAIL, 66.0),
    ("C55", [63.25] * 3, None, "mean", Outcome.PASS, 63.25),
]


@pytest.mark.parametrize(("grade", "groups", "sigma0", "prop", "outcome", "limit"), CONCRETE_CASES)
def test_concrete_acceptance(grade, groups, sigma0, prop, outcome, limit):
    j = judge_concrete(grade, groups, sigma0)
    r = next(x for x in j.results if x.prop == prop)
    assert r.outcome is outcome, r
    assert float(r.limit) == pytest.approx(limit)
    assert r.clause.startswith("GB/T 50107-2010 5.")


def test_concrete_method_choice_and_std_dev():
    assert choose_concrete_method(3, 4.0) is ConcreteMethod.STATISTICAL_KNOWN_SIGMA
    assert choose_concrete_method(3, None) is ConcreteMethod.NON_STATISTICAL
    assert choose_concrete_method(9, None) is ConcreteMethod.NON_STATISTICAL
    assert choose_concrete_method(10, None) is ConcreteMethod.STATISTICAL
    # S = 5.0 exactly for this spread (sample std dev, n − 1): mean ≥ 30 + 1.15·S
    groups = [35 + 5 * (1 if i % 2 else -1) * (9 / 10) ** 0.5 for i in range(10)]
    r = judge_concrete("C30", groups).results[0]
    assert float(r.limit) == pytest.approx(30 + 1.15 * 5.0, abs=1e-9)
    with pytest.raises(UnknownGrade):
        judge_concrete("C33", [30, 30, 30])
    with pytest.raises(ValueError):
        judge_concrete("C30", [30] * 4, 3.0, ConcreteMethod.STATISTICAL_KNOWN_SIGMA)


def test_membrane_is_never_guessed():
    j = judge_membrane("SBS I PY 4", {"tensile_n": 500})
    assert j.verdict is Verdict.PARTIAL and j.results[0].outcome is Outcome.NOT_CHECKED


def test_rule_sets_are_data_and_described():
    described = std.describe()
    assert {d["standard"] for d in described} == {"GB/T 1499.2-2018", "GB 175-2007", "GB 175-2023"}
    assert all(lim["clause"] for d in described for lim in d["limits"])
    assert std.cement_rule_set("P·O 42.5", date(2024, 6, 1)).standard == "GB 175-2023"
