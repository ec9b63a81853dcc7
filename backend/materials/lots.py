"""Concrete inspection lots (检验批, GB/T 50107-2010 3.0.2): groups of cubes from every report of one project,
strength class, mix and test age, cast in one calendar quarter, assessed together with the method their count
calls for (5.1.2 σ0 known and 3 groups; 5.1.3 ≥ 10 groups; 5.2 otherwise).

The period: GB/T 50107 asks a lot to be concrete of the same production conditions and mix and takes σ0 from a
60–90 day period (5.1.2); a calendar quarter (≤ 92 days, in the report's calendar) is the period used here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.auth.principal import Principal
from backend.materials import judge, standards
from backend.materials.schemas import ConcreteMeasured, LotOut, PropertyOut
from backend.materials.service import project_for
from backend.materials.tables import ConcreteGroup, ConcreteLot, LabReport


@dataclass(frozen=True, slots=True)
class Lot:
    key: str
    project: UUID
    grade: str
    mix_no: str
    age_days: int
    start: date
    end: date  # inclusive


@dataclass(frozen=True, slots=True)
class Assessment:
    verdict: str
    method: str
    results: list[dict[str, Any]]


def quarter(day: date) -> tuple[date, date]:
    """The calendar quarter holding the day: first and last date."""
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    nxt = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def _lot(project: UUID, grade: str, mix_no: str, age: int, start: date) -> Lot:
    _, end = quarter(start)
    key = f"{project}:{grade}:{mix_no or '-'}:{age}d:{start.isoformat()}"
    return Lot(key, project, grade, mix_no, age, start, end)


def lot_of(project: UUID, grade: str, data: ConcreteMeasured, report_date: date) -> Lot:
    """The lot a report's groups belong to (cast date: given, else report date − test age)."""
    cast = data.cast_date or (report_date - timedelta(days=data.age_days))
    return _lot(project, grade, data.mix_no.strip(), data.age_days, quarter(cast)[0])


def lot_from_key(key: str) -> Lot:
    parts = key.split(":")
    mix = ":".join(parts[2:-2])
    return _lot(UUID(parts[0]), parts[1], "" if mix == "-" else mix, int(parts[-2].rstrip("d")),
                date.fromisoformat(parts[-1]))


async def add_groups(report_id: UUID, batch_id: UUID, key: str, groups: list[Any]) -> None:
    """Store the report's groups with their representative values (4.3.1)."""
    rows = []
    for seq, group in enumerate(groups, start=1):
        if isinstance(group, list):
            value, note = judge.group_value(group)
        else:
            value, note = judge.dec(group), ""
        rows.append(ConcreteGroup(report=report_id, batch=batch_id, lot_key=key, seq=seq,
                                  specimens=json.dumps(group if isinstance(group, list) else [group]),
                                  value=None if value is None else round(value, 2), note=note))
    await ConcreteGroup.insert(*rows)


async def assess(lot: Lot) -> Assessment:
    """Assess the lot over the groups of its active reports and keep the result (material_concrete_lots).
    Inside the caller's transaction; one assessment of a lot at a time, so the last one sees every group."""
    await ConcreteLot.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"concrete_lot:{lot.key}")
    rows = await ConcreteGroup.select(ConcreteGroup.value, ConcreteGroup.report.measurements.as_alias("m")).where(
        (ConcreteGroup.lot_key == lot.key) & (ConcreteGroup.report.state == "active")
    ).order_by(ConcreteGroup.report.created_at).order_by(ConcreteGroup.seq).output(load_json=True)
    values = [Decimal(str(r["value"])) for r in rows if r["value"] is not None]
    dropped = len(rows) - len(values)
    sigmas = [r["m"]["concrete"].get("sigma0") for r in rows if r["m"]["concrete"].get("sigma0") is not None]
    sigma0 = sigmas[-1] if sigmas else None
    n = len(values)
    if n == 0:
        verdict, method = "partial", ""
        results = [judge.PropertyResult(
            "groups", "有效试件组", None, standards.Op.GE, Decimal(1), "组", standards.CONCRETE_LOT_CLAUSE,
            judge.Outcome.NOT_CHECKED, None, "检验批没有可用于评定的试件组").as_dict()]
    else:
        j = judge.judge_concrete(lot.grade, values, sigma0 if n == 3 else None)
        verdict, method = j.verdict.value, j.method
        note = f"检验批 {lot.grade} 配合比 {lot.mix_no or '—'} {lot.age_days}d {lot.start}～{lot.end}，{n} 组"
        if dropped:
            note += f"，{dropped} 组按 {standards.CONCRETE_GROUP_CLAUSE} 不作评定依据"
        results = [{**r.as_dict(), "note": f"{r.note}；{note}" if r.note else note} for r in j.results]
    await ConcreteLot.raw(
        "INSERT INTO material_concrete_lots (id, lot_key, project, grade, mix_no, age_days, period_start, period_end,"
        " sigma0, groups, method, verdict, results, assessed_at) VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {},"
        " {}, {}, {}, {}, {}, {}, now()) ON CONFLICT (lot_key) DO UPDATE SET sigma0 = EXCLUDED.sigma0,"
        " groups = EXCLUDED.groups, method = EXCLUDED.method, verdict = EXCLUDED.verdict,"
        " results = EXCLUDED.results, assessed_at = now()",
        lot.key, lot.project, lot.grade, lot.mix_no, lot.age_days, lot.start, lot.end,
        None if sigma0 is None else Decimal(str(sigma0)), n, method, verdict, json.dumps(results, ensure_ascii=False),
    )
    return Assessment(verdict, method, results)


async def verdicts(keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = await ConcreteLot.select(ConcreteLot.lot_key, ConcreteLot.verdict).where(ConcreteLot.lot_key.is_in(list(keys)))
    return {r["lot_key"]: r["verdict"] for r in rows}


async def batches_of(key: str) -> list[UUID]:
    """The batches with an active report in the lot."""
    rows = await LabReport.select(LabReport.batch).where((LabReport.lot_key == key) & (LabReport.state == "active"))
    return list(dict.fromkeys(r["batch"] for r in rows))


async def list_lots(actor: Principal, project_id: UUID) -> list[LotOut]:
    """A project's concrete inspection lots with their latest assessment."""
    await project_for(actor, project_id)
    rows = await ConcreteLot.select().where(ConcreteLot.project == project_id).order_by(
        ConcreteLot.period_start, ascending=False).output(load_json=True)
    out = []
    for r in rows:
        out.append(LotOut(
            lot_key=r["lot_key"], project_id=r["project"], grade=r["grade"], mix_no=r["mix_no"],
            age_days=r["age_days"], period_start=r["period_start"], period_end=r["period_end"], groups=r["groups"],
            method=r["method"], verdict=r["verdict"], results=[PropertyOut(**x) for x in r["results"]],
            batch_ids=await batches_of(r["lot_key"])))
    return out
