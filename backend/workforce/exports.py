"""Exports in the shape of 全国建筑工人管理服务信息平台数据标准 (national worker-platform data standard).

Seven objects per project and month: WorkerMaster, TeamMaster, ProjectWorker, EntryExitHistory,
WorkerAttendance, PayRoll, PayRollDetail. Field names follow the platform's open API (Team.Add,
ProjectWorker.Add, WorkerEntryExit.Add, WorkerAttendance.Add, Payroll.Add) as public implementations spell
them; docs/WORKFORCE_EXPORTS.md gives the sources and marks our own additions. ID numbers, phones and bank
cards are masked unless the caller may see them (a regulator admin of the district, or the project's
general contractor, as for ``registry.pii``). Readers: staff of the project's district and the GC's leads.
Dates are local (settings.TIMEZONE).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.access import audit as access_audit
from backend.access import policy as access_policy
from backend.accounts.service import mask_phone
from backend.auth.principal import Principal
from backend.enterprises.tables import Enterprise
from backend.errors import BadRequest
from backend.projects import service as projects_service
from backend.settings import Settings
from backend.workforce.payroll import month_bounds
from backend.workforce.pii import cipher, mask_bank_card, mask_id_number
from backend.workforce.tables import Clock, Payroll, PayrollLine, ProjectWorker, Team, Worker

OBJECTS = ("WorkerMaster", "TeamMaster", "ProjectWorker", "EntryExitHistory", "WorkerAttendance", "PayRoll", "PayRollDetail")
ID_CARD_TYPE = "01"  # 居民身份证 (dictionary: ID types)
WORK_ROLE_WORKER = "20"  # 建筑工人 (10 = 管理人员)


class _Pii:
    def __init__(self, settings: Settings, unmasked: bool) -> None:
        self.c, self.unmasked = cipher(settings), unmasked

    def id_number(self, row: dict[str, Any]) -> str:
        if not row["id_number_enc"]:  # anonymised by the retention job
            return ""
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


class _Local:
    """Dates and times as the platform wants them, in the local time zone."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)

    def d(self, value: Any) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d") if value else ""

    def t(self, value: Any) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S") if value else ""


async def export(settings: Settings, actor: Principal, project_id: UUID, month: str) -> dict[str, list[dict[str, Any]]]:
    """All seven objects for the project and month (local time zone)."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not 1 <= int(month[5:]) <= 12:
        raise BadRequest("VALIDATION_ERROR", detail={"month": month})
    project = await projects_service.get_project_row(project_id)
    await access_policy.check(actor, "export_roster", project)
    pii = _Pii(settings, await access_policy.allows(actor, "export_unmasked", project))
    if pii.unmasked:
        await access_audit.record_pii_read(actor, "export", project=project_id, detail=month)
    local = _Local(settings.TIMEZONE)
    start, end = month_bounds(month, settings.TIMEZONE)
    code = project["permit_no"]
    stints = await ProjectWorker.select(*ProjectWorker.all_columns()).where(
        (ProjectWorker.project == project_id) & (ProjectWorker.entered_at < end)
        & (ProjectWorker.exited_at.is_null() | (ProjectWorker.exited_at >= start))
    ).order_by(ProjectWorker.entered_at)
    # Teams alive in the month, and any a stint of the month names (a team made later, then the stint moved in).
    named = {s["team"] for s in stints if s["team"]}
    teams = {t["id"]: t for t in await Team.select().where(Team.project == project_id).order_by(Team.created_at)
             if t["id"] in named or (t["created_at"] < end and (t["disbanded_at"] is None or t["disbanded_at"] >= start))}
    worker_ids = list(dict.fromkeys([s["worker"] for s in stints] + [t["leader"] for t in teams.values() if t["leader"]]))
    workers = {w["id"]: w for w in await Worker.select().where(Worker.id.is_in(worker_ids))} if worker_ids else {}
    ent_ids = {s["enterprise"] for s in stints} | {w["employer"] for w in workers.values()} | {t["enterprise"] for t in teams.values()}
    payrolls = await Payroll.select().where((Payroll.project == project_id) & (Payroll.month == month))
    ent_ids |= {p["enterprise"] for p in payrolls} | {p["payer"] for p in payrolls if p["payer"]}
    ents = {e["id"]: e for e in await Enterprise.select(Enterprise.id, Enterprise.uscc, Enterprise.name).where(
        Enterprise.id.is_in(list(ent_ids)))} if ent_ids else {}
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in OBJECTS}
    for w in (workers[i] for i in dict.fromkeys(s["worker"] for s in stints)):
        out["WorkerMaster"].append({
            "workerName": w["name"], "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w),
            "gender": "1" if w["sex"] == "male" else "2", "birthday": w["birth_date"].isoformat(),
            "cellPhone": pii.phone(w), "workType": w["trade"],
        })
    for t in teams.values():
        corp, leader = ents.get(t["enterprise"], {}), workers.get(t["leader"]) if t["leader"] else None
        out["TeamMaster"].append({
            "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
            "teamSysNo": str(t["id"]), "teamName": t["name"],
            "teamLeaderName": leader["name"] if leader else "", "teamLeaderPhone": pii.phone(leader) if leader else "",
            "teamLeaderIDCardType": ID_CARD_TYPE if leader else "", "teamLeaderIDNumber": pii.id_number(leader) if leader else "",
            "entryTime": local.d(t["created_at"]), "exitTime": local.d(t["disbanded_at"]), "remark": "",
        })
    team_of: dict[UUID, UUID | None] = {}  # worker -> the team of their latest stint in the month
    for s in stints:
        w, corp = workers[s["worker"]], ents.get(s["enterprise"], {})
        team = teams.get(s["team"]) if s["team"] else None
        team_of[s["worker"]] = s["team"]
        out["ProjectWorker"].append({
            "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
            "teamSysNo": str(s["team"]) if s["team"] else "", "teamName": team["name"] if team else "",
            "workerName": w["name"], "isTeamLeader": 1 if team and team["leader"] == w["id"] else 0,
            "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w), "workType": s["trade"] or w["trade"],
            "workRole": WORK_ROLE_WORKER, "cellPhone": pii.phone(w), "payRollBankCardNumber": pii.card(w),
            "hasContract": 1 if w["contract_signed"] else 0, "entryTime": local.d(s["entered_at"]),
            "exitTime": local.d(s["exited_at"]),
        })
        for kind, at in ((1, s["entered_at"]), (0, s["exited_at"])):
            if at is not None and start <= at < end:
                out["EntryExitHistory"].append({
                    "projectCode": code, "corpCode": corp.get("uscc", ""), "corpName": corp.get("name", ""),
                    "teamSysNo": str(s["team"]) if s["team"] else "", "workerName": w["name"],
                    "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w), "date": local.d(at), "type": kind,
                })
    clocks = await Clock.select(Clock.worker, Clock.kind, Clock.at, Clock.lng, Clock.lat).where(
        (Clock.project == project_id) & (Clock.at >= start) & (Clock.at < end)).order_by(Clock.at)
    for c in clocks:
        w = workers.get(c["worker"])
        if w is None:
            w = (await Worker.select().where(Worker.id == c["worker"]).first())
            workers[c["worker"]] = w
        team_id = team_of.get(c["worker"])
        out["WorkerAttendance"].append({
            "projectCode": code, "teamSysNo": str(team_id) if team_id else "", "workerName": w["name"],
            "idCardType": ID_CARD_TYPE, "idCardNumber": pii.id_number(w), "date": local.t(c["at"]),
            "direction": "01" if c["kind"] == "in" else "02", "lng": c["lng"], "lat": c["lat"], "coordType": "gcj02",
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
                "payRollCode": str(p["id"]), "thirdPayRollCode": str(p["id"]), "projectCode": code,
                "corpCode": corp.get("uscc", ""), "workerName": w["name"], "idCardType": ID_CARD_TYPE,
                "idCardNumber": pii.id_number(w), "days": line["days"], "totalPayAmount": f"{line['amount_fen'] / 100:.2f}",
                "actualAmount": f"{line['paid_fen'] / 100:.2f}", "payRollBankCardNumber": pii.card(w),
                # 补发: owed days of earlier months this payroll pays (payroll_days), with the months they belong to
                "isBackPay": 1 if line["kind"] in ("back_pay", "correction") else 0,  # 更正补发 too; a claw-back is negative
                "backPayMonth": ",".join(sorted({d.strftime("%Y-%m") for d in line["work_days"] or []}))
                if line["kind"] == "back_pay" else "",
                "balanceDate": local.d(p["updated_at"]) if p["status"] == "paid" else "",
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
