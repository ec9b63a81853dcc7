"""National material standards as data (versioned rule sets); no logic beyond looking them up.

Every limit names its clause and where the value comes from (see /shared/domain/standards.md §3).
A limit of ``None`` means the value is not known from a source: the property is then reported
``not_checked`` — never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Op(StrEnum):
    GE = ">="
    LE = "<="


@dataclass(frozen=True, slots=True)
class Limit:
    """One property's requirement in one rule set."""

    prop: str  # key in the lab report's measurements
    name_zh: str
    op: Op
    value: Decimal | None  # None: not known from a source → not_checked
    unit: str
    clause: str
    source: str  # [V]/[S]/[M] as in standards.md
    required: bool = True  # False: judged only when the report gives it (not part of the site retest)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A standard's edition for one grade: the limits a report is compared with."""

    standard: str  # "GB/T 1499.2-2018"
    grade: str
    effective_from: date | None
    effective_until: date | None  # exclusive
    limits: tuple[Limit, ...]

    @property
    def key(self) -> str:
        return f"{self.standard}:{self.grade}"


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- Rebar: GB/T 1499.2-2018 hot-rolled ribbed bars (热轧带肋钢筋), §7.4.1 table 6 -------------------------

REBAR_STANDARD = "GB/T 1499.2-2018"
_REBAR_CLAUSE = "GB/T 1499.2-2018 7.4.1 表6"
_REBAR_SRC = "[S] czpygy.com (400/540/16, 500/630/15); E grades [S] asklib/chinaosd"
# Agt ≥ 7.5 % for the grades without E: standards.md §3.1 table (marked [M] there) and issue #19, which states
# the standard's value ("7.5 %; 9.0 % for E grades") after reading the printed table 6.
_AGT_SRC = "standards.md §3.1 表 + issue #19 (GB/T 1499.2-2018 表6)"

# grade: (ReL, Rm, A, Agt, seismic) — None where the value is only from memory ([M]): HRB600's Rm 730 and A 14.
_REBAR: dict[str, tuple[str, str | None, str | None, str | None, bool]] = {
    "HRB400": ("400", "540", "16", "7.5", False),
    "HRBF400": ("400", "540", "16", "7.5", False),
    "HRB400E": ("400", "540", None, "9.0", True),
    "HRBF400E": ("400", "540", None, "9.0", True),
    "HRB500": ("500", "630", "15", "7.5", False),
    "HRBF500": ("500", "630", "15", "7.5", False),
    "HRB500E": ("500", "630", None, "9.0", True),
    "HRBF500E": ("500", "630", None, "9.0", True),
    "HRB600": ("600", None, None, "7.5", False),
}

# GB/T 1499.2-2018 7.4.2: A may be 1 % lower for bars of 28–40 mm and 2 % lower above 40 mm (the diameter bands
# 6–25 / 28–40 / > 40–50 of the standard's tables [S] azee.cn; the allowance itself as the issue #19 brief cites it).
ELONGATION_ALLOWANCE_CLAUSE = "GB/T 1499.2-2018 7.4.2"
# 7.4.4: the elongation type (A or Agt) may be chosen; arbitration uses Agt. [M: wording from memory]
ELONGATION_TYPE_CLAUSE = "GB/T 1499.2-2018 7.4.4"
# Retest (复验): a failed item is retested on double the number of specimens from the same batch; any failure
# in the retest fails the batch. GB/T 1499.2-2018 8.x → GB/T 17505; [S] 360docs 1719208643 (standards.md §3.1).
REBAR_RETEST_CLAUSE = "GB/T 1499.2-2018 → GB/T 17505 复验（双倍试样）"


def elongation_allowance(diameter_mm: Decimal | None) -> Decimal | None:
    """How much lower A may be for this nominal diameter (7.4.2); None when the diameter is not known."""
    if diameter_mm is None:
        return None
    if diameter_mm > 40:
        return Decimal(2)
    if diameter_mm >= 28:
        return Decimal(1)
    return Decimal(0)


def _rebar_rule_set(grade: str) -> RuleSet:
    rel, rm, a, agt, seismic = _REBAR[grade]
    limits = [
        Limit("yield_strength", "下屈服强度 ReL", Op.GE, _d(rel), "MPa", _REBAR_CLAUSE, _REBAR_SRC),
        Limit("tensile_strength", "抗拉强度 Rm", Op.GE, _d(rm), "MPa", _REBAR_CLAUSE,
              _REBAR_SRC if rm else "[M] only: not checked"),
    ]
    if not seismic:
        limits.append(Limit("elongation", "断后伸长率 A", Op.GE, _d(a), "%", _REBAR_CLAUSE,
                            _REBAR_SRC if a else "[M] only: not checked"))
    limits.append(Limit("max_force_elongation", "最大力总延伸率 Agt", Op.GE, _d(agt), "%", _REBAR_CLAUSE,
                        _REBAR_SRC if seismic else _AGT_SRC))
    if seismic:
        limits += [
            Limit("tensile_to_yield", "强屈比 R°m/R°eL", Op.GE, Decimal("1.25"), "", _REBAR_CLAUSE, _REBAR_SRC),
            Limit("yield_to_nominal", "超屈比 R°eL/ReL", Op.LE, Decimal("1.30"), "", _REBAR_CLAUSE, _REBAR_SRC),
        ]
    # Bending (弯曲性能) is a site retest item (GB 50204-2015 5.2.1): no crack on the bent part (GB/T 1499.2-2018
    # 7.5.1). Judged when reported: pass/fail needs no numeric limit.
    limits.append(Limit("bend_ok", "弯曲性能", Op.GE, Decimal(1), "", "GB/T 1499.2-2018 7.5.1",
                        "qualitative: no crack", required=False))
    return RuleSet(REBAR_STANDARD, grade, None, None, tuple(limits))


REBAR_RULE_SETS: dict[str, RuleSet] = {grade: _rebar_rule_set(grade) for grade in _REBAR}

# --- Cement: GB 175 general-purpose Portland cement (通用硅酸盐水泥) -----------------------------------------
# GB 175-2023 is effective 2024-06-01 [V]; reports dated before use GB 175-2007.
# The site retest of cement covers strength, soundness and setting time (GB 50204-2015 7.2.1): those are the
# required properties. Chemical indices are judged only when a report gives them.

GB175_2023_EFFECTIVE = date(2024, 6, 1)
_C07 = "GB 175-2007"
_C23 = "GB 175-2023"
_C07_SRC = "[M + S] standards.md §3.2"
# The GB 175-2023 foreword lists every technical change against 2007 [V] jianbiaoku 171472/4858248: of the
# strength indices only the 3-day compressive ones changed (item k, 7.4.3); setting times and the other
# strength indices are not among the changes, so the 2007 values carry over. Chloride 0.10 % [S] (draft).
_C23_KEPT = "[V] GB 175-2023 前言（仅 3d 抗压强度指标变更）+ 2007 值 [M + S]"

# P·O grade: (3d compressive, 28d compressive, 3d flexural, 28d flexural), GB 175-2007 7.3.3 表3.
_CEMENT_2007: dict[str, tuple[str, str, str, str]] = {
    "P·O 42.5": ("17.0", "42.5", "3.5", "6.5"),
    "P·O 42.5R": ("22.0", "42.5", "4.0", "6.5"),
    "P·O 52.5": ("23.0", "52.5", "4.0", "7.0"),
    "P·O 52.5R": ("27.0", "52.5", "5.0", "7.0"),
}

# Chemical indices of P·O (SO3, MgO, loss on ignition): known only from memory → not checked when reported.
_CHEMICAL = (("so3_pct", "三氧化硫"), ("mgo_pct", "氧化镁"), ("loss_on_ignition_pct", "烧失量"))


def _chemical(edition: str) -> tuple[Limit, ...]:
    return tuple(Limit(prop, name, Op.LE, None, "%", f"{edition} 化学指标", "[M] only: not checked", required=False)
                 for prop, name in _CHEMICAL)


def _cement_2007(grade: str) -> RuleSet:
    c3, c28, f3, f28 = _CEMENT_2007[grade]
    strength = f"{_C07} 7.3.3 表3"
    return RuleSet(_C07, grade, None, GB175_2023_EFFECTIVE, (
        Limit("compressive_3d", "3天抗压强度", Op.GE, Decimal(c3), "MPa", strength, _C07_SRC),
        Limit("compressive_28d", "28天抗压强度", Op.GE, Decimal(c28), "MPa", strength, _C07_SRC),
        Limit("flexural_3d", "3天抗折强度", Op.GE, Decimal(f3), "MPa", strength, _C07_SRC),
        Limit("flexural_28d", "28天抗折强度", Op.GE, Decimal(f28), "MPa", strength, _C07_SRC),
        Limit("initial_setting_min", "初凝时间", Op.GE, Decimal(45), "min", f"{_C07} 7.3.1",
              "[S] bbs.ourseo.net"),
        Limit("final_setting_min", "终凝时间", Op.LE, Decimal(600), "min", f"{_C07} 7.3.1", "[S] bbs.ourseo.net"),
        Limit("chloride_pct", "氯离子", Op.LE, Decimal("0.06"), "%", f"{_C07} 7.1", "[S] ccement.com",
              required=False),
        *_chemical(_C07),
    ))


def _cement_2023(grade: str) -> RuleSet:
    # The 3-day compressive indices of every grade changed in 2023 and are not known from a source (standards.md
    # §7 item 2): not checked. 28-day compressive is the strength grade itself (the grade's definition).
    _c3, c28, f3, f28 = _CEMENT_2007[grade]
    strength = f"{_C23} 7.4.3"
    return RuleSet(_C23, grade, GB175_2023_EFFECTIVE, None, (
        Limit("compressive_3d", "3天抗压强度", Op.GE, None, "MPa", strength, "unknown: 2023 changed the 3-day indices"),
        Limit("compressive_28d", "28天抗压强度", Op.GE, Decimal(c28), "MPa", strength, "strength grade = 28-day value"),
        Limit("flexural_3d", "3天抗折强度", Op.GE, Decimal(f3), "MPa", strength, _C23_KEPT),
        Limit("flexural_28d", "28天抗折强度", Op.GE, Decimal(f28), "MPa", strength, _C23_KEPT),
        Limit("initial_setting_min", "初凝时间", Op.GE, Decimal(45), "min", f"{_C23} 7.4.1", _C23_KEPT),
        Limit("final_setting_min", "终凝时间", Op.LE, Decimal(600), "min", f"{_C23} 7.4.1", _C23_KEPT),
        Limit("chloride_pct", "氯离子", Op.LE, Decimal("0.10"), "%", _C23, "[S] ccement.com (draft)", required=False),
        *_chemical(_C23),
    ))


CEMENT_GRADES = tuple(_CEMENT_2007)
CEMENT_RULE_SETS: dict[str, tuple[RuleSet, RuleSet]] = {g: (_cement_2007(g), _cement_2023(g)) for g in CEMENT_GRADES}


def cement_rule_set(grade: str, report_date: date) -> RuleSet:
    """The GB 175 edition in force on the report date."""
    old, new = CEMENT_RULE_SETS[grade]
    return new if report_date >= GB175_2023_EFFECTIVE else old


def soundness_clause(standard: str) -> str:
    return f"{standard} 7.3.2" if standard == _C07 else f"{standard} 7.4.2"


# --- Concrete: GB/T 50107-2010 strength acceptance (混凝土强度检验评定) -------------------------------------

CONCRETE_STANDARD = "GB/T 50107-2010"
CONCRETE_SRC = "[S] qiqiwenku 986936, docduoduo 7134625"
CONCRETE_GRADES = tuple(f"C{n}" for n in range(15, 85, 5))
SIGMA_FLOOR = Decimal("2.5")  # σ0 and S below 2.5 MPa are taken as 2.5 (5.1.2, 5.1.3)
# Clause numbering (GB/T 50107-2010): 3.0.2 an inspection lot is concrete of one strength class, one test age,
# the same production process and (basically) the same mix; 3.0.3 statistical methods for large continuous
# production, non-statistical for small lots; 4.3.1 a group's representative value (mean of 3, or the middle
# one when max or min is > 15 % from it; neither when both are); 5.1.1 which statistical method applies;
# 5.1.2 σ0 known, a lot of 3 consecutive groups; 5.1.3 σ0 unknown, ≥ 10 groups (λ1, λ2: 表5.1.3);
# 5.2.1/5.2.2 non-statistical (λ3, λ4: 表5.2.2); 5.3.1 the lot conforms when its method's conditions hold.
# [S] qiqiwenku 986936, docduoduo 7134625; clause numbers [M], checked against the issue #19 note that the
# known-σ0 method is not 5.1.1.
CONCRETE_LOT_CLAUSE = "GB/T 50107-2010 3.0.2"
CONCRETE_GROUP_CLAUSE = "GB/T 50107-2010 4.3.1"
GROUP_SPREAD = Decimal("0.15")


def lambda_1_2(n: int) -> tuple[Decimal, Decimal]:
    """λ1, λ2 of the statistical method with n ≥ 10 groups (GB/T 50107-2010 表5.1.3)."""
    if n < 10:
        raise ValueError("the statistical method needs at least 10 groups")
    lam1 = Decimal("1.15") if n < 15 else Decimal("1.05") if n < 20 else Decimal("0.95")
    lam2 = Decimal("0.90") if n < 15 else Decimal("0.85")
    return lam1, lam2


def lambda_3_4(fcuk: int) -> tuple[Decimal, Decimal]:
    """λ3, λ4 of the non-statistical method (GB/T 50107-2010 表5.2.2)."""
    return (Decimal("1.15") if fcuk < 60 else Decimal("1.10")), Decimal("0.95")


# --- Membrane: no values in our sources ------------------------------------------------------------------

MEMBRANE_STANDARD = "GB 18242-2008"


def describe() -> list[dict[str, object]]:
    """Every rule set, for GET /api/v1/materials/standards."""
    sets: list[RuleSet] = list(REBAR_RULE_SETS.values())
    for pair in CEMENT_RULE_SETS.values():
        sets.extend(pair)
    return [
        {
            "standard": rs.standard, "grade": rs.grade,
            "effective_from": rs.effective_from, "effective_until": rs.effective_until,
            "limits": [
                {"property": lim.prop, "name": lim.name_zh, "op": lim.op.value,
                 "limit": None if lim.value is None else float(lim.value), "unit": lim.unit,
                 "clause": lim.clause, "source": lim.source}
                for lim in rs.limits
            ],
        }
        for rs in sets
    ]
