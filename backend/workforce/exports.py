"""Exports in the shape of 全国建筑工人管理服务信息平台数据标准 (national worker-platform data standard).

Six objects per project and month: WorkerMaster, ProjectWorker, EntryExitHistory, WorkerAttendance, PayRoll,
PayRollDetail. Field names follow the standard (mapping in docs/WORKFORCE_EXPORTS.md). ID numbers, phones and
bank cards are masked unless the caller may see them (a regulator admin of the district, or the project's
general contractor, as for ``registry.pii``). Readers: staff of the project's district and the GC's leads.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

from backend.accounts.service import mask_phone
from backend.auth.principal import Principal, Role
from backend.enterprises.tables import Enterprise
from backend.errors import BadRequest, Forbidden
from backend.projects import service as projects_service
from backend.settings import Settings
from backend.workforce.payroll import SHANGHAI, _gc_of, month_bounds
from backend.workforce.pii import PiiCipher, mask_bank_card, mask_id_number
from backend.workforce.tables import Clock, Payroll, PayrollLine, ProjectWorker, Worker

OBJECTS = ("WorkerMaster", "ProjectWorker", "EntryExitHistory", "WorkerAttendance", "PayRoll", "PayRollDetail")
ID_CARD_TYPE = "01"  # 居民身份证 (dictionary: ID types)


async def _may_see_pii(actor: Principal, project: dict[str, Any]) -> bool:
    """Who reads exports and whether unmasked: raises for anyone else."""
    if actor.is_staff:
        actor.require_district(project["district"])
        return actor.has_role(Role.REGULATOR_ADMIN)
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None and actor.enterprise_id in await _gc_of(project["id"]):
        return True
    raise Forbidden("FORBIDDEN_OWNER")


class _Pii:
    def __init__(self, settings: Settings, unmasked: bool) -> None:
        self.c, self.unmasked = PiiCipher(settings.PII_KEY), unmasked

    def id_number(self, row: dict[str, Any]) -> str:
        plain = self.c.decrypt(row["id_number_enc"], "id_number")
        return plain if self.unmasked else mask_id_number(plain)

    def phone(self, row: dict[str, Any]) -> str:
        if not row["phone_enc"]:
            return ""
        plain = self.c.decrypt(row["phone_enc"], "phone")
        return plain if self.unmasked else mask_phone(plain)

    def card(self, row: dict[str, Any]) -> str:
        if not row["bank_card_enc"]:
            return ""
        plain = self.c.decrypt(row["bank_card_enc"], "bank_card")
        return plain if self.unmasked else mask_bank_card(plain)


def _d(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d") if value else ""


def _t(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if value else ""


async def export(settings: Settings, actor: Principal, project_id: UUID, month: str) -> dict[str, list[dict[str, Any]]]:
    """All six objects for the project and month (Asia/Shanghai)."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not 1 <= int(month[5:]) <= 12:
        raise BadRequest("VALIDATION_ERROR", detail={"month": month})
    project = await projects_service.get_project_row(project_id)
    pii = _Pii(settings, await _may_see_pii(actor, project))
    start, end = month_bounds(month)
    code = project["permit_no"]
    stints = await ProjectWorker.select(*ProjectWorker.all_columns()).where(
        (ProjectWorker.project == project_id) & (ProjectWorker.entered_at < end)
        & (ProjectWorker.exited_at.is_null() | (ProjectWorker.exited_at >= start))
    ).order_by(ProjectWorker.entered_at)
    worker_ids = list(dict.fromkeys(s["worker"] for s in stints))
    workers = {w["id"]: w for w in await Worker.select().where(Worker.id.is_in(worker_ids))} if worker_ids else {}
    ent_ids = {s["enterprise"] for s in stints} | {w["employer"] for w in workers.values()}
    payrolls = await Payroll.select().where((Payroll.project == project_id) & (Payroll.month == month))
    ent_ids |= {p["enterprise"] for p in payrolls} | {p["payer"] for p in payrolls if p["payer"]}
    ents = {e["id"]: e for e in await Enterprise.select(Enterprise.id, Enterprise.uscc, Enterprise.name).where(
        Enterprise.id.is_in(list(ent_ids)))} if ent_ids else {}
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in OBJECTS}
    for w in workers.values():
        out["WorkerMaster"].append({
            "workerName": w["name"], "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w),
            "gender": "1" if w["sex"] == "male" else "2", "birthday": w["birth_date"].isoformat(),
            "cellPhone": pii.phone(w), "workType": w["trade"],
        })
    for s in stints:
        w, corp = workers[s["worker"]], ents.get(s["enterprise"], {})
        out["ProjectWorker"].append({
            "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
            "teamSysNo": str(s["team"]) if s["team"] else "", "workerName": w["name"], "idCardType": ID_CARD_TYPE,
            "idCardNumber": pii.id_number(w), "workType": s["trade"] or w["trade"],
            "hasContract": 1 if w["contract_signed"] else 0, "payRollBankCardNumber": pii.card(w),
            "entryTime": _d(s["entered_at"]), "exitTime": _d(s["exited_at"]),
        })
        for kind, at in ((1, s["entered_at"]), (0, s["exited_at"])):
            if at is not None and start <= at < end:
                out["EntryExitHistory"].append({
                    "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
                    "workerName": w["name"], "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w),
                    "date": _d(at), "type": kind,
                })
    clocks = await Clock.select(Clock.worker, Clock.kind, Clock.at, Clock.lng, Clock.lat).where(
        (Clock.project == project_id) & (Clock.at >= start) & (Clock.at < end)).order_by(Clock.at)
    for c in clocks:
        w = workers.get(c["worker"])
        if w is None:
            w = (await Worker.select().where(Worker.id == c["worker"]).first())
            workers[c["worker"]] = w
        out["WorkerAttendance"].append({
            "projectCode": code, "workerName": w["name"], "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w),
            "date": _t(c["at"]), "direction": "01" if c["kind"] == "in" else "02", "lng": c["lng"], "lat": c["lat"],
        })
    for p in payrolls:
        corp = ents.get(p["enterprise"], {})
        payer = ents.get(p["payer"], {}) if p["payer"] else {}
        out["PayRoll"].append({
            "payRollCode": str(p["id"]), "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
            "payMonth": p["month"], "status": p["status"], "totalAmount": f"{p['total_fen'] / 100:.2f}",
            "payCorpCode": payer.get("uscc", ""), "payCorpName": payer.get("name", ""),
            "isPaidByGeneralContractor": 1 if p["paid_by"] == "general_contractor" else 0,
        })
        lines = await PayrollLine.select().where(PayrollLine.payroll == p["id"])
        for line in lines:
            w = workers.get(line["worker"]) or await Worker.select().where(Worker.id == line["worker"]).first()
            out["PayRollDetail"].append({
                "payRollCode": str(p["id"]), "projectCode": code, "corpCode": corp.get("uscc", ""),
                "workerName": w["name"], "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w),
                "days": line["days"], "totalPayAmount": f"{line['amount_fen'] / 100:.2f}",
                "actualAmount": f"{line['paid_fen'] / 100:.2f}", "payRollBankCardNumber": pii.card(w),
                "isBackPay": 0, "balanceDate": _d(p["updated_at"]) if p["status"] == "paid" else "",
            })
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


async def export_one(settings: Settings, actor: Principal, project_id: UUID, month: str, name: str) -> list[dict[str, Any]]:
    if name not in OBJECTS:
        raise BadRequest("VALIDATION_ERROR", detail={"object": name, "allowed": list(OBJECTS)})
    return (await export(settings, actor, project_id, month))[name]
