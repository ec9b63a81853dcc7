"""Lab reports (检测报告): record and judge, retest on double samples, void or correct — and what follows.

What a batch's status is follows from its active reports (rules.derive_status): a report that is voided or
corrected stays on the trail with its own verdict, and the batch's status, its credit events and the notices
are brought in line with the reports that stand, inside the same transaction (apply_reports).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis
from asyncpg.exceptions import UniqueViolationError
from redis.asyncio import Redis

from backend.access import policy as access_policy
from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.materials import judge, lots, standards
from backend.materials.rules import (
    TRANSITIONS,
    Event,
    Material,
    Status,
    derive_status,
)
from backend.materials.schemas import CorrectIn, PropertyOut, ReportIn, ReportOut
from backend.materials.service import (
    _batch,
    _event,
    _fields,
    invalidate,
    lab_of,
    project_for,
    transition,
)
from backend.materials.tables import CreditEvent, LabReport, MaterialBatch, Sampling, UseDecision
from backend.notifications import service as notifications
from backend.notifications.schemas import Urgency
from backend.projects import service as projects_service
from backend.projects.tables import ProjectParty
from backend.settings import Settings

CREDIT_KIND_MATERIAL_FAILED = "material_test_failed"
CREDIT_KIND_REVERSED = "material_test_failed_reversed"  # cancels one failure event (report voided, retest passed)
_CLOSED = (Status.NON_CONFORMING, Status.REMOVED, Status.ENTRY_REJECTED)
_NATURAL = {Status.CONFORMING: Event.REPORT_PASS, Status.PARTIALLY_CHECKED: Event.REPORT_PARTIAL,
            Status.NON_CONFORMING: Event.REPORT_FAIL, Status.RETEST_PENDING: Event.REPORT_RETEST}
_STATUS_ZH = {Status.CONFORMING: "合格", Status.PARTIALLY_CHECKED: "部分项目未判定", Status.NON_CONFORMING: "不合格",
              Status.RETEST_PENDING: "待复验", Status.SAMPLED: "待检测", Status.ENTRY_ACCEPTED: "待检测",
              Status.REGISTERED: "待检测", Status.REMOVED: "已退场", Status.ENTRY_REJECTED: "进场验收不合格"}


# --- judging ----------------------------------------------------------------------------------------------

def judge_report(material: Material, grade: str, spec: str, data: ReportIn) -> judge.Judgement:
    """The pure judgement of a rebar, cement or membrane report (concrete is judged per lot: lots.py)."""
    given = {m for m in Material if getattr(data, m.value) is not None}
    if given != {material}:
        raise BadRequest("REPORT_INVALID", detail={"expected": material.value, "given": sorted(given)})
    try:
        if material is Material.REBAR:
            diameter = judge.dec(data.diameter_mm) if data.diameter_mm is not None else judge.rebar_diameter(spec)
            return judge.judge_rebar(grade, [{k: v for k, v in _fields(s).items() if v is not None}
                                             for s in data.rebar or []],
                                     diameter_mm=diameter, elongation_type=data.elongation_type)
        if material is Material.CEMENT:
            return judge.judge_cement(grade, data.report_date, _fields(data.cement))
        return judge.judge_membrane(grade, data.membrane or {})
    except judge.UnknownGrade as exc:
        raise BadRequest("GRADE_UNKNOWN", detail={"grade": grade}) from exc


def _plain(value: Any) -> Any:
    if hasattr(value, "__struct_fields__"):
        return _fields(value)
    return str(value)


def report_out(row: dict[str, Any], batch_status: str) -> ReportOut:
    return ReportOut(
        id=row["id"], batch_id=row["batch"], report_no=row["report_no"], report_date=row["report_date"],
        lab_id=row["lab"], lab_name=row.get("lab_name", ""), standard=row["standard"], method=row["method"],
        verdict=row["verdict"], results=[PropertyOut(**r) for r in row["results"]],
        batch_status=Status(batch_status), created_at=row["created_at"], state=row["state"],
        state_reason=row["state_reason"], retest_of=row["retest_of"], supersedes=row["supersedes"],
        lot_key=row["lot_key"],
    )


async def _report(report_id: UUID) -> dict[str, Any]:
    row = await LabReport.select(*LabReport.all_columns(), LabReport.lab.name.as_alias("lab_name")).where(
        LabReport.id == report_id).output(load_json=True).first()
    if row is None:
        raise NotFound("REPORT_NOT_FOUND")
    return row


async def _check_retest(batch: dict[str, Any], data: ReportIn) -> None:
    """A retest (复验) is allowed once, for a failed rebar report, on at least double the specimens."""
    original = await LabReport.select().where(LabReport.id == data.retest_of).output(load_json=True).first()
    if original is None or original["batch"] != batch["id"]:
        raise NotFound("REPORT_NOT_FOUND", detail={"retest_of": str(data.retest_of)})
    if Material(batch["material"]) is not Material.REBAR:
        raise Conflict("RETEST_NOT_ALLOWED", detail={"reason": "standard_has_no_retest", "material": batch["material"]})
    if original["state"] != "active" or original["verdict"] != "fail" or original["retest_of"] is not None:
        raise Conflict("RETEST_NOT_ALLOWED", detail={"reason": "not_a_first_failure", "state": original["state"],
                                                     "verdict": original["verdict"]})
    taken = await LabReport.count().where((LabReport.retest_of == original["id"]) & (LabReport.state == "active"))
    if taken:
        raise Conflict("RETEST_NOT_ALLOWED", detail={"reason": "already_retested"})
    needed = 2 * len(original["measurements"].get("rebar", []))
    if len(data.rebar or []) < needed:
        raise BadRequest("RETEST_NOT_ALLOWED", detail={"reason": "double_samples", "needed": needed,
                                                       "given": len(data.rebar or [])})


# --- recording ----------------------------------------------------------------------------------------------

async def record_report(settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, batch_id: UUID,
                        data: ReportIn) -> ReportOut:
    """A lab records a report; it is judged at once and the batch follows (blocked, notified, credited on failure)."""
    lab_id = await lab_of(actor)
    row = await _batch(batch_id)
    # only the lab named in the batch's witnessed sampling, and only after sampling (issue 17)
    labs = await Sampling.select(Sampling.lab).where(Sampling.batch == batch_id)
    await access_policy.check(actor, "file_lab_report", {"lab_ids": {s["lab"] for s in labs if s["lab"]}})
    status = Status(row["status"])
    # A failed batch never passes on a new report: only a retest (where the standard allows one), or the lab
    # voiding or correcting its report, changes it. A batch awaiting its retest takes the retest only.
    if status in _CLOSED or (status is Status.RETEST_PENDING and data.retest_of is None):
        raise Conflict("BATCH_STATE", detail={"status": status.value, "event": "report",
                                              **({"retest_of": "required"} if status is Status.RETEST_PENDING
                                                 else {})})
    if data.retest_of is not None:
        await _check_retest(row, data)
    try:
        async with MaterialBatch._meta.db.transaction():
            report_id, touched = await _insert_report(row, lab_id, actor, data, supersedes=None)
            await _event(batch_id, "report_recorded", actor, detail={"report": str(report_id),
                                                                     "retest_of": str(data.retest_of or "")})
            for bid in touched:
                await apply_reports(settings, arq, actor, bid, cause=f"report:{report_id}", reports_changed=True)
    except UniqueViolationError as exc:
        raise Conflict("REPORT_DUPLICATE") from exc
    for bid in touched:
        await invalidate(redis, bid)
    saved = await _report(report_id)
    return report_out(saved, (await _batch(batch_id))["status"])


async def _insert_report(batch: dict[str, Any], lab_id: UUID, actor: Principal, data: ReportIn,
                         supersedes: UUID | None, retest_of: UUID | None = None) -> tuple[UUID, list[UUID]]:
    """Insert a report (and, for concrete, its groups and the lot's new assessment); the batches it affects."""
    material = Material(batch["material"])
    report_id = uuid4()
    measurements = {m.value: getattr(data, m.value) for m in Material if getattr(data, m.value) is not None}
    if data.diameter_mm is not None:
        measurements["diameter_mm"] = data.diameter_mm
    if data.elongation_type is not None:
        measurements["elongation_type"] = data.elongation_type.value
    common: dict[str, Any] = {
        "id": report_id, "batch": batch["id"], "lab": lab_id, "report_no": data.report_no.strip(),
        "report_date": data.report_date, "sample_no": data.sample_no, "recorded_by": actor.id,
        "measurements": json.dumps(measurements, default=_plain, ensure_ascii=False),
        "retest_of": retest_of if retest_of is not None else data.retest_of, "supersedes": supersedes}
    if material is not Material.CONCRETE:
        result = judge_report(material, batch["grade"], batch["spec"], data)
        await LabReport.insert(LabReport(**common, standard=result.standard, method=result.method,
                                         verdict=result.verdict.value,
                                         results=json.dumps([r.as_dict() for r in result.results], ensure_ascii=False)))
        return report_id, [batch["id"]]
    given = {m for m in Material if getattr(data, m.value) is not None}
    if given != {Material.CONCRETE}:
        raise BadRequest("REPORT_INVALID", detail={"expected": "concrete", "given": sorted(given)})
    try:
        judge.concrete_fcuk(batch["grade"])
    except judge.UnknownGrade as exc:
        raise BadRequest("GRADE_UNKNOWN", detail={"grade": batch["grade"]}) from exc
    assert data.concrete is not None
    lot = lots.lot_of(batch["project"], batch["grade"], data.concrete, data.report_date)
    await LabReport.insert(LabReport(**common, standard=standards.CONCRETE_STANDARD, method="lot", verdict="partial",
                                     results="[]", lot_key=lot.key))
    await lots.add_groups(report_id, batch["id"], lot.key, data.concrete.groups)
    assessment = await lots.assess(lot)
    await LabReport.update({LabReport.verdict: assessment.verdict, LabReport.method: assessment.method,
                            LabReport.results: json.dumps(assessment.results, ensure_ascii=False)}).where(
        LabReport.id == report_id)
    return report_id, await lots.batches_of(lot.key)


# --- void and correct -------------------------------------------------------------------------------------

async def _own_active_report(actor: Principal, report_id: UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    await lab_of(actor)
    report = await _report(report_id)
    access_policy.require(actor, "own_lab_report", report)
    if report["state"] != "active":
        raise Conflict("REPORT_STATE", detail={"state": report["state"]})
    return report, await _batch(report["batch"])


async def _retire(report: dict[str, Any], state: str, reason: str, actor: Principal) -> None:
    changed = await LabReport.update({
        LabReport.state: state, LabReport.state_reason: reason, LabReport.state_changed_at: utcnow(),
        LabReport.state_changed_by: actor.id,
    }).where((LabReport.id == report["id"]) & (LabReport.state == "active")).returning(LabReport.id)
    if not changed:
        raise Conflict("REPORT_STATE", detail={"state": "changed"})


async def void_report(settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, report_id: UUID,
                      reason: str) -> ReportOut:
    """The lab that issued a report voids it (作废) with a reason; the batch follows the reports that stand."""
    report, batch = await _own_active_report(actor, report_id)
    async with MaterialBatch._meta.db.transaction():
        await _retire(report, "voided", reason, actor)
        await _event(batch["id"], "report_voided", actor, detail={
            "report": str(report_id), "report_no": report["report_no"], "verdict_before": report["verdict"],
            "reason": reason})
        touched = [batch["id"]]
        if report["lot_key"]:
            await lots.assess(lots.lot_from_key(report["lot_key"]))
            touched = list(dict.fromkeys([batch["id"], *await lots.batches_of(report["lot_key"])]))
        for bid in touched:
            await apply_reports(settings, arq, actor, bid, cause=f"void:{report_id}", reports_changed=True,
                                change=f"报告{report['report_no'][:8]}作废")
    for bid in touched:
        await invalidate(redis, bid)
    return report_out(await _report(report_id), (await _batch(batch["id"]))["status"])


async def correct_report(settings: Settings, redis: Redis, arq: ArqRedis | None, actor: Principal, report_id: UUID,
                         data: CorrectIn) -> ReportOut:
    """The lab replaces a report with a corrected one (更正): the old one stays, marked superseded."""
    report, batch = await _own_active_report(actor, report_id)
    if data.report.retest_of is not None and data.report.retest_of != report["retest_of"]:
        raise BadRequest("REPORT_INVALID", detail={"retest_of": "a correction keeps the report's retest link"})
    try:
        async with MaterialBatch._meta.db.transaction():
            await _retire(report, "superseded", data.reason, actor)
            if report["lot_key"]:
                await lots.assess(lots.lot_from_key(report["lot_key"]))
            new_id, touched = await _insert_report(batch, report["lab"], actor, data.report, supersedes=report_id,
                                                   retest_of=report["retest_of"])
            # A retest of the corrected report now retests the correction.
            await LabReport.update({LabReport.retest_of: new_id}).where(LabReport.retest_of == report_id)
            await _event(batch["id"], "report_corrected", actor, detail={
                "report": str(report_id), "corrected_by": str(new_id), "report_no": report["report_no"],
                "verdict_before": report["verdict"], "reason": data.reason})
            if report["lot_key"]:
                touched = list(dict.fromkeys([*touched, *await lots.batches_of(report["lot_key"])]))
            for bid in touched:
                await apply_reports(settings, arq, actor, bid, cause=f"correct:{report_id}", reports_changed=True,
                                    change=f"报告{report['report_no'][:8]}更正")
    except UniqueViolationError as exc:
        raise Conflict("REPORT_DUPLICATE") from exc
    for bid in touched:
        await invalidate(redis, bid)
    return report_out(await _report(new_id), (await _batch(batch["id"]))["status"])


# --- consequences -------------------------------------------------------------------------------------------

async def _base_status(batch_id: UUID) -> Status:
    from backend.materials.tables import EntryInspection, Sampling

    if await Sampling.exists().where(Sampling.batch == batch_id):
        return Status.SAMPLED
    if await EntryInspection.exists().where((EntryInspection.batch == batch_id) & (EntryInspection.accepted == True)):
        return Status.ENTRY_ACCEPTED
    return Status.REGISTERED


async def active_reports(batch_id: UUID) -> list[dict[str, Any]]:
    return await LabReport.select().where((LabReport.batch == batch_id) & (LabReport.state == "active")).order_by(
        LabReport.created_at).output(load_json=True)


async def apply_reports(settings: Settings, arq: ArqRedis | None, actor: Principal | None, batch_id: UUID, *,
                        cause: str, reports_changed: bool, change: str = "") -> Status:
    """Bring the batch in line with its active reports (inside the caller's transaction): status, the supervisor
    decision, credit events (recorded or reversed) and notices."""
    locked = await MaterialBatch.raw("SELECT id FROM material_batches WHERE id = {} FOR UPDATE", batch_id)
    if not locked:
        raise NotFound("BATCH_NOT_FOUND")
    batch = await _batch(batch_id)
    current = Status(batch["status"])
    reports = await active_reports(batch_id)
    lot_verdicts = await lots.verdicts({r["lot_key"] for r in reports if r["lot_key"]})
    derived = derive_status(Material(batch["material"]), reports, lot_verdicts, await _base_status(batch_id))
    if derived is Status.PARTIALLY_CHECKED and cement_reports_together(batch["grade"], reports) is judge.Verdict.PASS:
        derived = Status.CONFORMING  # the 3-day and the 28-day report together check every item
    if reports_changed:  # the reports decided on changed: every standing decision lapses
        lapsed = await UseDecision.update({UseDecision.lapsed_at: utcnow()}).where(
            (UseDecision.batch == batch_id) & UseDecision.lapsed_at.is_null()).returning(UseDecision.id)
        if lapsed:
            await MaterialBatch.update({MaterialBatch.use_decision: None}).where(MaterialBatch.id == batch_id)
            batch["use_decision"] = None
            await _event(batch_id, "use_decision_lapsed", actor, detail={
                "decisions": [str(x["id"]) for x in lapsed], "cause": cause})
    terminal = current in (Status.REMOVED, Status.ENTRY_REJECTED)
    if derived is not None and not terminal and derived != current:
        natural = _NATURAL.get(derived)
        event = natural if natural and TRANSITIONS.get((current, natural)) == derived else Event.REASSESS
        await transition(batch, event, actor, {"cause": cause}, target=derived)
    status = Status(batch["status"])
    await _sync_credit(settings, arq, batch, reports, lot_verdicts, status, actor)
    await _notify_change(settings, arq, batch, reports, lot_verdicts, current, status, cause, change)
    return status


def cement_reports_together(grade: str, reports: list[dict[str, Any]]) -> judge.Verdict | None:
    """A cement sample's 3-day and 28-day results often come in two reports: judge what the active reports give
    together (a later value of a property replaces an earlier one), by the edition of the latest report date."""
    cement = [r for r in reports if "cement" in r["measurements"]]
    if len(cement) < 2 or any(r["verdict"] == "fail" for r in cement):
        return None
    merged: dict[str, Any] = {}
    for r in cement:  # in the order recorded
        merged.update({k: v for k, v in r["measurements"]["cement"].items() if v is not None})
    try:
        return judge.judge_cement(grade, max(r["report_date"] for r in cement), merged).verdict
    except judge.UnknownGrade:
        return None


def _standing_failures(material: Material, reports: list[dict[str, Any]], lot_verdicts: dict[str, str],
                       status: Status) -> set[UUID]:
    """The reports whose failure stands: a final failure, or a retestable one the batch left the site on."""
    retested = {r["retest_of"] for r in reports if r["retest_of"]}
    failed: set[UUID] = set()
    for r in reports:
        if r["id"] in retested:
            continue
        verdict = lot_verdicts.get(r["lot_key"], r["verdict"]) if r["lot_key"] else r["verdict"]
        if verdict != "fail":
            continue
        awaiting_retest = material is Material.REBAR and r["retest_of"] is None
        if not awaiting_retest or status is Status.REMOVED:
            failed.add(r["id"])
    return failed


async def _sync_credit(settings: Settings, arq: ArqRedis | None, batch: dict[str, Any], reports: list[dict[str, Any]],
                       lot_verdicts: dict[str, str], status: Status, actor: Principal | None) -> None:
    from backend.credit import service as credit_service  # credit imports materials' tables

    standing = _standing_failures(Material(batch["material"]), reports, lot_verdicts, status)
    for rid in standing:
        report = next(r for r in reports if r["id"] == rid)
        failed = "、".join(dict.fromkeys(x["name"] for x in report["results"] if x["result"] == "fail"))
        await credit_service.record_event(
            batch["manufacturer"], CREDIT_KIND_MATERIAL_FAILED, f"material_lab_report:{rid}",
            settings=settings, arq=arq, project_id=batch["project"], recorded_by=actor.id if actor else None,
            note=f"{batch['grade']} {batch['production_batch_no']}: {failed}",
        )
    all_ids = [r["id"] for r in await LabReport.select(LabReport.id).where(LabReport.batch == batch["id"])]
    evidence = {f"material_lab_report:{rid}": rid for rid in all_ids}
    if not evidence:
        return
    recorded = await CreditEvent.select().where(
        (CreditEvent.enterprise == batch["manufacturer"]) & CreditEvent.evidence.is_in(list(evidence))
        & CreditEvent.kind.is_in([CREDIT_KIND_MATERIAL_FAILED, CREDIT_KIND_REVERSED]))
    reversed_ = {e["evidence"] for e in recorded if e["kind"] == CREDIT_KIND_REVERSED}
    for e in recorded:
        if e["kind"] != CREDIT_KIND_MATERIAL_FAILED or evidence[e["evidence"]] in standing:
            continue
        if e["evidence"] in reversed_:
            continue
        # Same date and the opposite points: the two decay alike, so the failure weighs nothing from now on.
        await credit_service.record_event(
            batch["manufacturer"], CREDIT_KIND_REVERSED, e["evidence"], settings=settings, arq=arq,
            project_id=batch["project"], points=-e["points"], occurred_at=e["occurred_at"],
            recorded_by=actor.id if actor else None, note=f"撤销：{e['note']}"[:500],
        )


async def failure_recipients(project: dict[str, Any]) -> list[UUID]:
    """Supervisors and general-contractor users of the project's parties, its leads, and its station's staff."""
    parties = await ProjectParty.select(ProjectParty.enterprise, ProjectParty.role).where(
        ProjectParty.project == project["id"])
    supervision = [p["enterprise"] for p in parties if p["role"] == "supervision"]
    contractors = [p["enterprise"] for p in parties if p["role"] == "general_contractor"]
    people: list[UUID] = []
    if supervision:
        people += [r["id"] for r in await User.select(User.id).where(
            User.enterprise.is_in(supervision) & (User.role == Role.SUPERVISOR.value) & (User.is_active == True))]
    if contractors:
        people += [r["id"] for r in await User.select(User.id).where(
            User.enterprise.is_in(contractors) & (User.is_active == True))]
    people += await projects_service.lead_user_ids(project["id"])
    people += [r["id"] for r in await User.select(User.id).where(
        (User.district == project["district"]) & User.role.is_in([Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value])
        & (User.is_active == True))]
    return list(dict.fromkeys(people))


_FAILING = (Status.NON_CONFORMING, Status.RETEST_PENDING)


async def _notify_change(settings: Settings, arq: ArqRedis | None, batch: dict[str, Any],
                         reports: list[dict[str, Any]], lot_verdicts: dict[str, str], before: Status, after: Status,
                         cause: str, change: str) -> None:
    """A batch entering a failing state: material_failed; leaving one, or a report voided / corrected:
    material_verdict_changed — to the supervisor, GC, leads and the station (inside the transaction)."""
    if after in _FAILING and after != before:
        failing = [r for r in reports if (lot_verdicts.get(r["lot_key"], r["verdict"]) if r["lot_key"]
                                          else r["verdict"]) == "fail"]
        items = dict.fromkeys(x["name"] for r in failing for x in r["results"] if x["result"] == "fail")
        item = "、".join(items) or "检验批不合格"
        if after is Status.RETEST_PENDING:
            item += "（可双倍复验）"
        project = await projects_service.get_project_row(batch["project"])
        own = cause.startswith("report:") and any(str(r["id"]) == cause[7:] for r in reports)
        dedup = f"material_failed:{cause[7:]}" if own else f"material_failed:{batch['id']}:{cause}:{after.value}"
        await notifications.notify(
            await failure_recipients(project), "material_failed",
            {"material": f"{batch['grade']} {batch['spec']}".strip(), "project": project["name"], "item": item,
             "time": utcnow(), "district_adcode": project["district"]},  # the webhooks' scope (webhook_scope.py)
            dedup_key=dedup, urgency=Urgency.HIGH,
            settings=settings, arq=arq, subject=("material_batch", str(batch["id"])),
        )
    elif (before in _FAILING and after != before) or change:
        project = await projects_service.get_project_row(batch["project"])
        text = f"{change}，" if change else ""
        await notifications.notify(
            await failure_recipients(project), "material_verdict_changed",
            {"material": f"{batch['grade']} {batch['spec']}".strip(), "project": project["name"],
             "change": f"{text}现为{_STATUS_ZH.get(after, after.value)}", "time": utcnow()},
            dedup_key=f"material_verdict:{batch['id']}:{cause}", urgency=Urgency.HIGH,
            settings=settings, arq=arq, subject=("material_batch", str(batch["id"])),
        )


async def list_reports(actor: Principal, batch_id: UUID) -> list[ReportOut]:
    """Every report of the batch, voided and superseded ones included (the trail)."""
    row = await _batch(batch_id)
    await project_for(actor, row["project"])
    rows = await LabReport.select(*LabReport.all_columns(), LabReport.lab.name.as_alias("lab_name")).where(
        LabReport.batch == batch_id).order_by(LabReport.created_at).output(load_json=True)
    return [report_out(r, row["status"]) for r in rows]


def unchecked_items(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The properties not checked in the active reports (what a supervisor decides on)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in reports:
        for x in r["results"]:
            if x["result"] == "not_checked":
                seen.setdefault((x["property"], x["clause"]), {"property": x["property"], "name": x["name"],
                                                               "clause": x["clause"], "note": x["note"],
                                                               "report_no": r["report_no"]})
    return list(seen.values())

