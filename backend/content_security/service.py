"""Content security (内容安全): complaint text through msgSecCheck v2, photos through mediaCheckAsync v2.

WeChat requires a mini-program that publishes what users write to have it checked
(../shared/domain/wechat.md, "Content security"). A text's verdict comes in the answer; a photo's
arrives later as a ``wxa_media_check`` push (backend/content_security/push.py). A ``review`` or
``risky`` verdict hides the text or photo from everyone but the station of the case until a station
member reviews it; every transition (verdict or review) writes an event row — the audit trail.

State machine (TRANSITIONS): pending → submitted (photo sent, verdict to come) | passed | hidden |
not_required (no WeChat user to check it for); submitted → passed | hidden; hidden → approved |
removed (the station's review). A failed call leaves the check pending; the reconciler retries it.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import structlog

from backend.access import policy as access_policy
from backend.access import scope as access_scope
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.clients.wechat import WeChatClient, WeChatError
from backend.content_security.tables import ContentCheck, ContentCheckEvent
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.settings import Settings

log = structlog.get_logger("zhijian.content_security")

TRANSITIONS: dict[str, set[str]] = {
    "pending": {"submitted", "passed", "hidden", "not_required"},
    "submitted": {"passed", "hidden"},
    "hidden": {"approved", "removed"},
    "passed": set(),
    "approved": set(),
    "removed": set(),
    "not_required": set(),
}
#: statuses whose text or photo only the station sees
HIDDEN = ("hidden", "removed")
MAX_ATTEMPTS = 8


def _label(value: Any) -> int | None:
    """WeChat's hit label (100 normal, 20001 时政 …); pushes have been seen carrying it as a string."""
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def verdict_status(suggest: str) -> str:
    """WeChat's suggest → our status: only ``pass`` is published; ``review`` and ``risky`` wait for the station."""
    return "passed" if suggest == "pass" else "hidden"


async def transition(
    check_id: UUID, to: str, kind: str, *, actor: UUID | None = None, reason: str = "",
    data: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move one check along TRANSITIONS (row locked) and write its event row; Conflict if not allowed."""
    async with ContentCheck._meta.db.transaction():
        rows = await ContentCheck.raw("SELECT * FROM content_checks WHERE id = {} FOR UPDATE", check_id)
        if not rows:
            raise NotFound("CONTENT_CHECK_NOT_FOUND")
        row = rows[0]
        if to not in TRANSITIONS[row["status"]]:
            raise Conflict("CONTENT_CHECK_BAD_STATE", detail={"status": row["status"], "to": to})
        sets = {"status": to, **(values or {})}
        assignments = ", ".join(f"{k} = {{}}" for k in sets)
        updated = await ContentCheck.raw(
            f"UPDATE content_checks SET {assignments} WHERE id = {{}} RETURNING *", *sets.values(), check_id
        )
        await ContentCheckEvent.insert(
            ContentCheckEvent(
                check=check_id, kind=kind, from_status=row["status"], to_status=to, actor=actor, reason=reason[:500],
                data=json.dumps(data or {}, ensure_ascii=False), at=utcnow(),
            )
        )
    return updated[0]


async def register_complaint(complaint_id: UUID) -> int:
    """A check for the complaint's text and each of its photos (idempotent); returns how many are new."""
    rows = await ContentCheck.raw(
        "INSERT INTO content_checks (id, kind, subject_type, subject_id, complaint, district, openid, status, created_at)"
        " SELECT gen_random_uuid(), 'text', 'complaint_text', c.id::text, c.id, c.district, COALESCE(u.openid, ''),"
        "  'pending', now() FROM complaints c LEFT JOIN users u ON u.id = c.citizen WHERE c.id = {}"
        " UNION ALL"
        " SELECT gen_random_uuid(), 'media', 'complaint_photo', m.id::text, c.id, c.district, COALESCE(u.openid, ''),"
        "  'pending', now() FROM complaints c JOIN media m ON m.attached_type = 'complaint' AND m.attached_id = c.id::text"
        "  LEFT JOIN users u ON u.id = c.citizen WHERE c.id = {}"
        " ON CONFLICT (subject_type, subject_id) DO NOTHING RETURNING id",
        complaint_id, complaint_id,
    )
    return len(rows)


async def register_missing(window_s: int = 86400) -> int:
    """Complaints of the last day without a text check (their job was lost): register them."""
    rows = await ContentCheck.raw(
        "SELECT c.id FROM complaints c WHERE c.submitted_at > now() - make_interval(secs => {})"
        " AND NOT EXISTS (SELECT 1 FROM content_checks k WHERE k.subject_type = 'complaint_text'"
        " AND k.subject_id = c.id::text) LIMIT 500",
        window_s,
    )
    return sum([await register_complaint(r["id"]) for r in rows])


async def _complaint_text(complaint_id: UUID) -> str:
    rows = await ContentCheck.raw("SELECT description, address FROM complaints WHERE id = {}", complaint_id)
    return f"{rows[0]['description']}\n{rows[0]['address']}".strip() if rows else ""


async def _media_url(s3: S3Client, settings: Settings, media_id: UUID) -> str | None:
    rows = await ContentCheck.raw("SELECT key FROM media WHERE id = {} AND status = 'verified'", media_id)
    if not rows:
        return None
    from backend.media.service import BUCKET

    return await s3.presigned_get(BUCKET, rows[0]["key"], settings.CONTENT_CHECK_URL_TTL_S)


async def run_check(settings: Settings, wechat: WeChatClient, s3: S3Client, row: dict[str, Any]) -> str:
    """Send one pending check to WeChat; returns its new status (or 'pending' when the call failed)."""
    if not row["openid"]:
        # msgSecCheck v2 and mediaCheckAsync v2 check a WeChat user's content; a partner system's report is not one
        return (await transition(row["id"], "not_required", "not_required", reason="no WeChat user"))["status"]
    try:
        if row["kind"] == "text":
            text = await _complaint_text(UUID(row["subject_id"]))
            answer = await wechat.msg_sec_check(row["openid"], text[:2500], settings.CONTENT_CHECK_SCENE)
            result = answer.get("result") or {}
            suggest = str(result.get("suggest", "review"))
            values = {"suggest": suggest, "label": _label(result.get("label")), "trace_id": answer.get("trace_id"),
                      "verdict_at": utcnow(), "attempts": row["attempts"] + 1}
            return (await transition(row["id"], verdict_status(suggest), "verdict", data=result, values=values))["status"]
        url = await _media_url(s3, settings, UUID(row["subject_id"]))
        if url is None:
            return (await transition(row["id"], "not_required", "not_required", reason="photo not verified"))["status"]
        trace_id = await wechat.media_check_async(row["openid"], url, settings.CONTENT_CHECK_SCENE)
        values = {"trace_id": trace_id, "attempts": row["attempts"] + 1}
        return (await transition(row["id"], "submitted", "submitted", values=values))["status"]
    except WeChatError as err:
        log.warning("content_check_failed", check=str(row["id"]), errcode=err.errcode)
        await ContentCheck.raw(
            "UPDATE content_checks SET attempts = attempts + 1, last_error = {} WHERE id = {}",
            f"{err.errcode}: {err.errmsg}"[:200], row["id"],
        )
        return "pending"


async def run_pending(settings: Settings, wechat: WeChatClient, s3: S3Client, complaint_id: UUID | None = None) -> dict[str, int]:
    """Send every pending check (of one complaint, or all: the reconciler); counts by new status."""
    query = "SELECT * FROM content_checks WHERE status = 'pending' AND attempts < {}"
    args: list[Any] = [MAX_ATTEMPTS]
    if complaint_id is not None:
        query += " AND complaint = {}"
        args.append(complaint_id)
    counts: dict[str, int] = {}
    for row in await ContentCheck.raw(query + " ORDER BY created_at LIMIT 500", *args):
        status = await run_check(settings, wechat, s3, row)
        counts[status] = counts.get(status, 0) + 1
    return counts


async def record_media_verdict(trace_id: str, result: dict[str, Any]) -> str | None:
    """A wxa_media_check push: the photo's verdict; None when the trace is unknown or already decided."""
    rows = await ContentCheck.select(ContentCheck.id, ContentCheck.status).where(ContentCheck.trace_id == trace_id).first()
    if rows is None or rows["status"] != "submitted":
        return None  # WeChat repeats a push it thinks we missed: the first one decided
    suggest = str(result.get("suggest", "review"))
    values = {"suggest": suggest, "label": _label(result.get("label")), "verdict_at": utcnow()}
    return (await transition(rows["id"], verdict_status(suggest), "verdict", data=result, values=values))["status"]


# --- who sees what ------------------------------------------------------------------------------


async def hidden_subjects(subject_type: str, subject_ids: list[str]) -> set[str]:
    """Which of these texts or photos only the station may see (a review / risky verdict not yet cleared)."""
    if not subject_ids:
        return set()
    rows = await ContentCheck.select(ContentCheck.subject_id).where(
        (ContentCheck.subject_type == subject_type)
        & ContentCheck.subject_id.is_in(subject_ids)
        & ContentCheck.status.is_in(list(HIDDEN))
    )
    return {r["subject_id"] for r in rows}


# --- the station's review -----------------------------------------------------------------------

REVIEW_TO = {"approve": "approved", "remove": "removed"}


def _check_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "kind": row["kind"], "subject_type": row["subject_type"], "subject_id": row["subject_id"],
        "complaint_id": row["complaint"], "district_adcode": row["district"], "status": row["status"],
        "suggest": row["suggest"], "label": row["label"], "created_at": row["created_at"],
        "verdict_at": row["verdict_at"], "reviewed_at": row["reviewed_at"],
    }


async def review_queue(actor: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
    """Hidden texts and photos awaiting the station's review, oldest first (own district; city-wide: all)."""
    district = access_scope.staff_district(actor)
    where = ContentCheck.status == "hidden"
    if district is not None:
        where = where & (ContentCheck.district == district)
    rows = await ContentCheck.select().where(where).order_by(ContentCheck.created_at).limit(limit).offset(offset)
    return [_check_out(r) for r in rows]


async def review(actor: Principal, check_id: UUID, decision: str, reason: str) -> dict[str, Any]:
    """The station clears (approve) or keeps hidden for good (remove) a hidden text or photo; audited."""
    if decision not in REVIEW_TO:
        raise BadRequest("VALIDATION_ERROR", detail={"decision": list(REVIEW_TO)})
    if not reason.strip():
        raise BadRequest("CONTENT_REVIEW_REASON_REQUIRED")
    row = await ContentCheck.select().where(ContentCheck.id == check_id).first()
    if row is None:
        raise NotFound("CONTENT_CHECK_NOT_FOUND")
    access_policy.require(actor, "review_content", row)
    updated = await transition(
        check_id, REVIEW_TO[decision], f"review_{decision}", actor=actor.id, reason=reason.strip(),
        values={"reviewed_by": actor.id, "reviewed_at": utcnow()},
    )
    return _check_out(updated)


async def history(actor: Principal, check_id: UUID) -> list[dict[str, Any]]:
    """The audit trail of one check: WeChat's verdict and the station's review, oldest first."""
    row = await ContentCheck.select(ContentCheck.district).where(ContentCheck.id == check_id).first()
    if row is None:
        raise NotFound("CONTENT_CHECK_NOT_FOUND")
    access_policy.require(actor, "review_content", row)
    events = await ContentCheckEvent.select().where(ContentCheckEvent.check == check_id).order_by(ContentCheckEvent.id)
    return [
        {"kind": e["kind"], "from_status": e["from_status"], "to_status": e["to_status"], "actor_id": e["actor"],
         "reason": e["reason"], "at": e["at"]}
        for e in events
    ]

