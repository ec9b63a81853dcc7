"""People's rights over their own data (issue 23, part 4): see and download it, ask for a correction, close the account.

PIPL 第44条 (to know and decide), 第45条 (to consult and copy: a copy is given in time), 第46条 (to have inaccurate
information corrected), 第47条 (deletion when the purpose is achieved or consent withdrawn; where a law requires
keeping it, processing stops except storage and security), 第50条 (requests are accepted and handled promptly; a
refusal says why). GB/T 35273-2020 §8.7: an answer within 30 days — the deadline here is PRIVACY_ANSWER_S.

Every request is a ``privacy_requests`` row with an event trail (``privacy_request_events``), state machine below.
Access and closing are done at once by the system (logged answered); a correction goes to the responsible station
(the district of the worker's current site, else of the person's latest report, else the city), whose admins are
reminded before the deadline and the city's admins told when it passes (timers, kind ``privacy_request``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from backend import db
from backend.access import policy as access_policy
from backend.access import scope as access_scope
from backend.accounts import service as accounts_service
from backend.auth.principal import Principal, Role
from backend.errors import BadRequest, Conflict, NotFound
from backend.notifications.service import notify
from backend.privacy.schemas import (
    AnswerIn,
    ClosureOut,
    CorrectionIn,
    KeptItem,
    PrivacyRequestEventOut,
    PrivacyRequestOut,
)
from backend.privacy.tables import PrivacyRequest
from backend.settings import Settings
from backend.timers import service as timers
from backend.workforce.pii import cipher

log = structlog.get_logger("zhijian.privacy.rights")

TIMER_KIND = "privacy_request"
SUBJECT = "privacy_request"

# State machine: action → (allowed from, to). Access and closing are created answered (action "done").
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "answer": (frozenset({"open"}), "answered"),
    "reject": (frozenset({"open"}), "rejected"),
}

CORRECTABLE = {
    "display_name": "昵称",
    "phone": "手机号",
    "worker_name": "实名登记姓名",
    "worker_phone": "实名登记手机号",
    "bank_card": "工资银行卡号",
    "complaint": "投诉内容或位置",
    "clock": "考勤记录",
    "other": "其他",
}

# Fields the person owns on their account that the station may correct through the answer (rights.answer applies
# the value): column of ``users``, and the check of the new value.
APPLICABLE: dict[str, re.Pattern[str]] = {
    "display_name": re.compile(r"^\S(.{0,62}\S)?$"),
    "phone": re.compile(r"^1[3-9]\d{9}$"),  # a mainland mobile number
}

# What the law keeps when an account is closed (PIPL 第47条第2款: storage only, no other processing).
KEPT_ON_CLOSING = [
    KeptItem(what="实名登记信息、考勤记录和工资记录", why="《保障农民工工资支付条例》第15条、第28条；建市〔2019〕18号",
             until="最后一次工资发放后3年（见个人信息处理记录）"),
    KeptItem(what="已提交投诉的案卷（不再关联您的身份）", why="《建设工程质量管理条例》第53条：质监机构办理投诉的记录",
             until="办结后3年，期满后位置模糊化、投诉内容删除"),
    KeptItem(what="本次注销及您提出的个人信息请求的记录", why="PIPL 第50条：个人行使权利的申请受理和处理情况",
             until="3年"),
]


async def _q(sql: str, *args: Any) -> list[dict[str, Any]]:
    """A raw statement through Piccolo, so that it joins the caller's transaction (timers, notify) — $n → {}."""
    return await PrivacyRequest.raw(re.sub(r"\$\d+", "{}", sql), *_ordered(sql, args))


async def _row(sql: str, *args: Any) -> dict[str, Any] | None:
    rows = await _q(sql, *args)
    return rows[0] if rows else None


async def _val(sql: str, *args: Any) -> Any:
    row = await _row(sql, *args)
    return next(iter(row.values())) if row else None


def _ordered(sql: str, args: tuple) -> list[Any]:
    """Piccolo's {} placeholders are positional: repeat/reorder the $n arguments as they appear."""
    return [args[int(n) - 1] for n in re.findall(r"\$(\d+)", sql)]


async def _event(request_id: UUID, kind: str, actor: UUID | None, from_status: str = "",
                 to_status: str = "", note: str = "") -> None:
    await _q(
        "INSERT INTO privacy_request_events (id, request, kind, from_status, to_status, actor, note, at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, now())", uuid4(), request_id, kind, from_status, to_status, actor,
        note[:500])


async def _log_done(user_id: UUID, kind: str, answer: str) -> UUID:
    """A request the system carried out at once (access, closing): submitted and answered in one go."""
    request_id = uuid4()
    await _q(
        "INSERT INTO privacy_requests (id, \"user\", kind, status, answer, due_at, created_at, answered_at)"
        " VALUES ($1, $2, $3, 'answered', $4, now(), now(), now())", request_id, user_id, kind, answer)
    await _event(request_id, "submitted", user_id, to_status="open")
    await _event(request_id, "answered", None, "open", "answered", answer)
    return request_id


def _user(actor: Principal) -> UUID:
    access_policy.require(actor, "own_privacy_rights", {})
    return actor.id


# --- access: everything held about me -----------------------------------------------------------------------

async def my_data(settings: Settings, actor: Principal) -> dict[str, Any]:
    """What Zhijian holds about the caller, as JSON (PIPL 第45条); the access is logged as an answered request."""
    user_id = _user(actor)
    c = cipher(settings)
    async with PrivacyRequest._meta.db.transaction():
        user = await _row(
            "SELECT id, role, display_name, phone, created_at, last_login_at FROM users WHERE id = $1", user_id)
        consents = await _q(
            "SELECT item, version, accepted_at, withdrawn_at FROM privacy_consents WHERE \"user\" = $1"
            " ORDER BY accepted_at", user_id)
        complaints = await _q(
            "SELECT id, number, status, description, address, lng, lat, contact::text AS contact, submitted_at,"
            " closed_at, satisfaction, satisfaction_comment FROM complaints WHERE citizen = $1 ORDER BY submitted_at",
            user_id)
        joined = await _q(
            "SELECT c.number, s.at FROM complaint_supporters s JOIN complaints c ON c.id = s.complaint"
            " WHERE s.\"user\" = $1 ORDER BY s.at", user_id)
        media = await _q(
            "SELECT id, purpose, status, attached_type, attached_id, created_at FROM media WHERE owner = $1"
            " ORDER BY created_at", user_id)
        inbox = await _q(
            "SELECT title, body, created_at FROM notifications WHERE recipient = $1 ORDER BY created_at", user_id)
        worker = await _row(
            "SELECT id, name, id_number_enc, sex, birth_date, phone_enc, bank_card_enc, trade, created_at"
            " FROM workers WHERE \"user\" = $1", user_id)
        stints, clocks, lines = [], [], []
        if worker is not None:
            stints = await _q(
                "SELECT p.name AS project, pw.entered_at, pw.exited_at, pw.trade FROM project_workers pw"
                " JOIN projects p ON p.id = pw.project WHERE pw.worker = $1 ORDER BY pw.entered_at", worker["id"])
            clocks = await _q(
                "SELECT k.kind, k.at, k.lng, k.lat, k.accuracy_m, k.device_id, k.review_status,"
                " k.selfie_media_id, p.name AS project FROM worker_clocks k JOIN projects p ON p.id = k.project"
                " WHERE k.worker = $1 ORDER BY k.at", worker["id"])
            lines = await _q(
                "SELECT p.month, p.status, l.days, l.amount_fen, l.paid_fen, l.kind FROM payroll_lines l"
                " JOIN payrolls p ON p.id = l.payroll WHERE l.worker = $1 ORDER BY p.month", worker["id"])
        requests = await _q(
            "SELECT id, kind, status, field, requested_change, answer, created_at, due_at, answered_at"
            " FROM privacy_requests WHERE \"user\" = $1 ORDER BY created_at", user_id)
        await _log_done(user_id, "access", "已提供个人信息副本")

    def rows(rs: Any) -> list[dict[str, Any]]:
        return [{k: _plain(v) for k, v in dict(r).items()} for r in rs]

    out: dict[str, Any] = {
        "generated_at": db.utcnow().isoformat(),
        "account": {k: _plain(v) for k, v in dict(user).items()} if user else None,
        "consents": rows(consents),
        "complaints": [{**r, "contact": json.loads(r["contact"] or "null") or {}} for r in rows(complaints)],
        "complaints_joined": rows(joined),
        "photos": rows(media),
        "notifications": rows(inbox),
        "requests": rows(requests),
        "worker": None,
        "data_map": "docs/PERSONAL_DATA.md (purposes, legal bases, retention)",
    }
    if worker is not None:
        out["worker"] = {
            "id": str(worker["id"]), "name": worker["name"],
            "id_number": c.decrypt(worker["id_number_enc"], "id_number"),
            "sex": worker["sex"], "birth_date": worker["birth_date"].isoformat(),
            "phone": c.decrypt(worker["phone_enc"], "phone"),
            "bank_card": c.decrypt(worker["bank_card_enc"], "bank_card"),
            "trade": worker["trade"], "registered_at": worker["created_at"].isoformat(),
            "roster": rows(stints), "clocks": rows(clocks), "payroll_lines": rows(lines),
        }
    log.info("privacy_access", user=str(user_id))
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, UUID):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


# --- correction: answered by the station in time --------------------------------------------------------------

async def _responsible_district(user_id: UUID) -> int | None:
    """The worker's current (else latest) site's district, else the person's latest report's, else None (city)."""
    district = await _val(
        "SELECT p.district FROM project_workers pw JOIN workers w ON w.id = pw.worker JOIN projects p ON p.id = pw.project"
        " WHERE w.\"user\" = $1 ORDER BY (pw.exited_at IS NULL) DESC, pw.entered_at DESC LIMIT 1", user_id)
    if district is None:
        district = await _val(
            "SELECT district FROM complaints WHERE citizen = $1 AND district IS NOT NULL"
            " ORDER BY submitted_at DESC LIMIT 1", user_id)
    return district


async def _admins(district: int | None) -> list[UUID]:
    """The station's admins (regulator admins of the district); the city's admins when there is none."""
    rows = []
    if district is not None:
        rows = await _q("SELECT id FROM users WHERE role = 'regulator_admin' AND district = $1"
                                " AND is_active", district)
    if not rows:
        rows = await _q("SELECT id FROM users WHERE role = 'regulator_admin' AND district IS NULL AND is_active")
    return [r["id"] for r in rows]


async def _city_admins() -> list[UUID]:
    return [r["id"] for r in await _q(
        "SELECT id FROM users WHERE role = 'regulator_admin' AND district IS NULL AND is_active")]


async def request_correction(settings: Settings, actor: Principal, data: CorrectionIn) -> PrivacyRequestOut:
    """Log a correction request, tell the responsible station, keep its deadline with the timer service."""
    user_id = _user(actor)
    if data.field not in CORRECTABLE:
        raise BadRequest("PRIVACY_FIELD_UNKNOWN", detail={"field": data.field, "allowed": sorted(CORRECTABLE)})
    if not data.requested_change.strip():
        raise BadRequest("VALIDATION_ERROR", detail="requested_change is empty")
    now = db.utcnow()
    due = now + timedelta(seconds=settings.PRIVACY_ANSWER_S)
    request_id = uuid4()
    async with PrivacyRequest._meta.db.transaction():
        open_count = await _val("SELECT count(*) FROM privacy_requests WHERE \"user\" = $1"
                                         " AND status = 'open'", user_id)
        if open_count >= 5:
            raise Conflict("PRIVACY_REQUESTS_OPEN", detail={"open": open_count})
        district = await _responsible_district(user_id)
        await _q(
            "INSERT INTO privacy_requests (id, \"user\", kind, status, district, field, requested_change, due_at,"
            " created_at) VALUES ($1, $2, 'correction', 'open', $3, $4, $5, $6, $7)",
            request_id, user_id, district, data.field, data.requested_change.strip(), due, now)
        await _event(request_id, "submitted", user_id, to_status="open")
        remind_at = max(now, due - timedelta(seconds=settings.PRIVACY_REMIND_BEFORE_S))
        await timers.schedule(TIMER_KIND, f"{request_id}:remind", remind_at,
                              {"request": str(request_id), "step": "remind"})
        await timers.schedule(TIMER_KIND, f"{request_id}:escalate", due,
                              {"request": str(request_id), "step": "escalate"})
        await _tell(settings, await _admins(district), "个人信息更正申请待处理",
                    f"{CORRECTABLE[data.field]}：请于期限内答复", f"privacy:{request_id}:submitted", request_id)
    return await _out(request_id)


async def _tell(settings: Settings, people: list[UUID], title: str, content: str, dedup: str,
                request_id: UUID) -> None:
    if people:
        await notify(people, "generic_notice", {"title": title, "content": content, "time": db.utcnow()}, dedup,
                     settings=settings, arq=None, subject=(SUBJECT, str(request_id)), webhooks=False)


async def on_timer(ctx: dict[str, Any], timer: timers.Timer) -> None:
    """Reminder before the deadline (the station's admins), escalation at it (the city's admins too); only while
    the request is still open. Runs inside the timer's firing transaction."""
    settings: Settings = ctx["settings"]
    request_id = UUID(timer.payload["request"])
    step = timer.payload["step"]
    async with PrivacyRequest._meta.db.transaction():
        row = await _row("SELECT id, status, district, field FROM privacy_requests WHERE id = $1",
                                  request_id)
        if row is None or row["status"] != "open":
            return
        admins = await _admins(row["district"])
        if step == "escalate":
            admins = list(dict.fromkeys(admins + await _city_admins()))
            title, content = "个人信息更正申请已超期", f"{CORRECTABLE.get(row['field'], '')}：已超过答复期限，请立即处理"
        else:
            title, content = "个人信息更正申请即将到期", f"{CORRECTABLE.get(row['field'], '')}：请在期限前答复"
        await _event(request_id, "escalated" if step == "escalate" else "reminded", None, "open", "open")
    await _tell(settings, admins, title, content, f"privacy:{request_id}:{step}", request_id)


async def answer(settings: Settings, actor: Principal, request_id: UUID, data: AnswerIn) -> PrivacyRequestOut:
    """The station answers (done, with what was corrected) or refuses (with the reason: PIPL 第50条)."""
    action = "answer" if data.decision == "done" else "reject"
    if not data.answer.strip():
        raise BadRequest("VALIDATION_ERROR", detail="answer is empty")
    async with PrivacyRequest._meta.db.transaction():
        row = await _row("SELECT * FROM privacy_requests WHERE id = $1 FOR UPDATE", request_id)
        if row is None:
            raise NotFound("PRIVACY_REQUEST_NOT_FOUND")
        access_policy.require(actor, "admin_of_district", row)
        allowed, target = TRANSITIONS[action]
        if row["status"] not in allowed:
            raise Conflict("PRIVACY_REQUEST_STATE", detail={"status": row["status"], "action": action})
        if data.corrected_value is not None:
            await _apply(row, action, data.corrected_value, actor)
        await _q("UPDATE privacy_requests SET status = $2, answer = $3, answered_at = now(),"
                           " answered_by = $4 WHERE id = $1", request_id, target, data.answer.strip(), actor.id)
        await _event(request_id, "answered" if action == "answer" else "rejected", actor.id, row["status"],
                     target, data.answer.strip())
        await timers.cancel(TIMER_KIND, prefix=f"{request_id}:")
        await _tell(settings, [row["user"]], "个人信息请求已答复", data.answer.strip()[:20],
                    f"privacy:{request_id}:{target}", request_id)
    return await _out(request_id)


async def _apply(row: dict[str, Any], action: str, value: str, actor: Principal) -> None:
    """Correct a field the person owns (PIPL 第46条), inside the answer's transaction; the trail says who and which
    field (not the value: the request holds what was asked, the account what it is now)."""
    field = row["field"]
    if action != "answer" or field not in APPLICABLE:
        raise BadRequest("PRIVACY_CORRECTION_NOT_APPLICABLE",
                         detail={"field": field, "decision": "done" if action == "answer" else "rejected",
                                 "applicable": sorted(APPLICABLE)})
    value = value.strip()
    if not APPLICABLE[field].match(value):
        raise BadRequest("PRIVACY_CORRECTION_INVALID", detail={"field": field})
    changed = await _q(f"UPDATE users SET {field} = $2 WHERE id = $1 AND is_active RETURNING id", row["user"], value)
    if not changed:  # the account was closed meanwhile: nothing of it to correct
        raise BadRequest("PRIVACY_CORRECTION_NOT_APPLICABLE", detail={"field": field, "account": "closed"})
    await _event(row["id"], "corrected", actor.id, row["status"], row["status"], f"已按申请更正：{CORRECTABLE[field]}")
    log.info("privacy_correction_applied", request=str(row["id"]), field=field, by=str(actor.id))


async def staff_list(actor: Principal, status: str | None) -> list[PrivacyRequestOut]:
    """Correction requests the caller's station answers (a city admin: all), oldest due first."""
    district = access_scope.staff_district(actor, roles=frozenset({Role.REGULATOR_ADMIN}))
    async with PrivacyRequest._meta.db.transaction():
        ids = await _q(
            "SELECT id FROM privacy_requests WHERE kind = 'correction' AND ($1::text IS NULL OR status = $1)"
            " AND ($2::int IS NULL OR district = $2) ORDER BY due_at LIMIT 200", status, district)
    return [await _out(r["id"]) for r in ids]


async def mine(actor: Principal) -> list[PrivacyRequestOut]:
    user_id = _user(actor)
    async with PrivacyRequest._meta.db.transaction():
        ids = await _q("SELECT id FROM privacy_requests WHERE \"user\" = $1 ORDER BY created_at DESC"
                               " LIMIT 100", user_id)
    return [await _out(r["id"]) for r in ids]


async def _out(request_id: UUID) -> PrivacyRequestOut:
    async with PrivacyRequest._meta.db.transaction():
        r = await _row("SELECT * FROM privacy_requests WHERE id = $1", request_id)
        events = await _q("SELECT kind, from_status, to_status, actor, note, at FROM privacy_request_events"
                                  " WHERE request = $1 ORDER BY at, kind DESC", request_id)
    return PrivacyRequestOut(
        id=r["id"], kind=r["kind"], status=r["status"], district_adcode=r["district"], field=r["field"],
        requested_change=r["requested_change"], answer=r["answer"], created_at=r["created_at"], due_at=r["due_at"],
        answered_at=r["answered_at"], late=(r["answered_at"] or db.utcnow()) > r["due_at"] and r["kind"] == "correction",
        events=[PrivacyRequestEventOut(kind=e["kind"], from_status=e["from_status"], to_status=e["to_status"],
                                       actor_id=e["actor"], note=e["note"], at=e["at"]) for e in events])


# --- closing the account ----------------------------------------------------------------------------------------

async def close_account(settings: Settings, actor: Principal) -> ClosureOut:
    """Close the caller's account: what the law keeps is kept (and said); the rest deleted or anonymised."""
    user_id = _user(actor)
    async with PrivacyRequest._meta.db.transaction():
        worker = await _val("SELECT id FROM workers WHERE \"user\" = $1", user_id)
        counts = {
            "consents": await _n("DELETE FROM privacy_consents WHERE \"user\" = $1", user_id),
            "joined": await _n("DELETE FROM complaint_supporters WHERE \"user\" = $1", user_id),
            "complaint_contacts": await _n(
                "UPDATE complaints SET contact = jsonb_build_object(), satisfaction_comment = '' WHERE citizen = $1"
                " AND (contact <> jsonb_build_object() OR satisfaction_comment <> '')", user_id),
            "notifications": await _n("DELETE FROM notifications WHERE recipient = $1", user_id),
            "worker_unlinked": await _n("UPDATE workers SET \"user\" = NULL WHERE \"user\" = $1", user_id),
        }
        await _q("UPDATE content_checks SET openid = '' WHERE complaint IN"
                           " (SELECT id FROM complaints WHERE citizen = $1)", user_id)
        await _q(
            "UPDATE users SET openid = NULL, unionid = NULL, display_name = '已注销用户', phone = '', is_active = false"
            " WHERE id = $1", user_id)
        await _q("UPDATE refresh_tokens SET revoked_at = now() WHERE \"user\" = $1 AND revoked_at IS NULL",
                           user_id)
        await accounts_service.end_sessions(user_id)  # every access token issued before stops at once
        await _q("DELETE FROM wechat_subscriptions WHERE \"user\" = $1", user_id)
        await _q("DELETE FROM wechat_bindings WHERE \"user\" = $1", user_id)  # the refused openid it kept
        request_id = await _log_done(user_id, "closure", "账号已注销")
    kept = list(KEPT_ON_CLOSING) if worker is not None else KEPT_ON_CLOSING[1:]
    log.info("privacy_account_closed", user=str(user_id), **counts)
    return ClosureOut(request_id=request_id, deleted=counts, kept=kept)


async def _n(sql: str, *args: Any) -> int:
    return len(await _q(sql + " RETURNING 1", *args))


def require_city_admin(actor: Principal) -> None:
    access_policy.require(actor, "city_admin_of_admins", {})
