"""Notice and consent (issue 23, part 3): acceptances recorded per user, item and version; required before the
first complaint (``general`` + ``location``) and the first clock-in (``general`` + ``location`` + ``face``).

PIPL 第14条 (informed, free consent; renewed when the purpose or means change: a new notice version needs a new
acceptance), 第15条 (consent may be withdrawn, as easily as given), 第29条 (sensitive items: separate consent).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend import db
from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.errors import BadRequest, Conflict, Forbidden
from backend.privacy import notice
from backend.privacy.schemas import ConsentIn, ConsentOut, NoticeOut, NoticesOut

REQUIRED: dict[str, tuple[str, ...]] = {
    "complaint": ("general", "location"),  # the report's point is a precise location
    "clock": ("general", "location", "face"),  # the clock's point and its selfie
}


def _user(actor: Principal) -> UUID:
    access_policy.require(actor, "own_consent", {})
    return actor.id


async def _accepted(user_id: UUID) -> dict[str, dict[str, Any]]:
    """The latest acceptance still in force per item: {item: {version, accepted_at}}."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (item) item, version, accepted_at FROM privacy_consents"
            " WHERE \"user\" = $1 AND withdrawn_at IS NULL ORDER BY item, accepted_at DESC", user_id)
    return {r["item"]: dict(r) for r in rows}


async def notices(actor: Principal) -> NoticesOut:
    """The current notices with what this user accepted (the mini-program shows those not yet accepted)."""
    accepted = await _accepted(_user(actor))
    out = []
    for n in notice.all_current():
        mine = accepted.get(n.item)
        out.append(NoticeOut(item=n.item, version=n.version, title=n.title, text=n.text, sensitive=n.sensitive,
                             accepted_version=mine["version"] if mine else None,
                             accepted_at=mine["accepted_at"] if mine else None,
                             current=bool(mine and mine["version"] == n.version)))
    return NoticesOut(notices=out, required={k: list(v) for k, v in REQUIRED.items()})


async def accept(actor: Principal, data: ConsentIn) -> ConsentOut:
    """Record the acceptance of the *current* version of a notice (an old or unknown version is refused)."""
    user_id = _user(actor)
    if data.item not in notice.NOTICES:
        raise BadRequest("PRIVACY_NOTICE_UNKNOWN", detail={"item": data.item})
    current = notice.current(data.item)
    if data.version != current.version:
        raise Conflict("PRIVACY_NOTICE_STALE", detail={"item": data.item, "current_version": current.version})
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "INSERT INTO privacy_consents (id, \"user\", item, version, accepted_at)"
            " VALUES (gen_random_uuid(), $1, $2, $3, now())"
            " ON CONFLICT (\"user\", item, version) DO UPDATE SET withdrawn_at = NULL,"
            "   accepted_at = CASE WHEN privacy_consents.withdrawn_at IS NULL THEN privacy_consents.accepted_at"
            "                 ELSE excluded.accepted_at END"
            " RETURNING item, version, accepted_at", user_id, data.item, data.version)
    return ConsentOut(item=row["item"], version=row["version"], accepted_at=row["accepted_at"])


async def withdraw(actor: Principal, item: str) -> None:
    """Withdraw consent to an item (PIPL 第15条): what needs it is refused again until accepted anew."""
    user_id = _user(actor)
    if item not in notice.NOTICES:
        raise BadRequest("PRIVACY_NOTICE_UNKNOWN", detail={"item": item})
    async with db.connection() as conn:
        await conn.execute("UPDATE privacy_consents SET withdrawn_at = now()"
                           " WHERE \"user\" = $1 AND item = $2 AND withdrawn_at IS NULL", user_id, item)


# What a caller folds into a statement it runs anyway (the clock-in's context query, say) instead of asking
# require(): the user's standing acceptances as 'item version' strings; the user id is the given parameter.
ACCEPTED_SQL = ("(SELECT coalesce(array_agg(pc.item || ' ' || pc.version), '{{}}') FROM privacy_consents pc"
                " WHERE pc.\"user\" = {user} AND pc.withdrawn_at IS NULL)")


def check_accepted(actor: Principal, action: str, accepted: list[str] | None) -> None:
    """Refuse the action (PRIVACY_CONSENT_REQUIRED, the items missing) unless ``accepted`` ('item version'
    strings, from ACCEPTED_SQL) holds the current version of every notice the action needs."""
    if actor.kind != "user":
        return
    have = set(accepted or ())
    missing = [item for item in REQUIRED[action] if f"{item} {notice.current(item).version}" not in have]
    if missing:
        raise Forbidden("PRIVACY_CONSENT_REQUIRED", detail={
            "missing": [{"item": i, "version": notice.current(i).version} for i in missing]})


async def require(actor: Principal, action: str) -> None:
    """Refuse the action (PRIVACY_CONSENT_REQUIRED, the items missing) unless the user accepted the current
    version of every notice it needs. Partner systems (API keys) bring their own basis and are not asked."""
    if actor.kind != "user":
        return
    async with db.connection() as conn:
        accepted = await conn.fetchval("SELECT " + ACCEPTED_SQL.format(user="$1"), actor.id)
    check_accepted(actor, action, accepted)
