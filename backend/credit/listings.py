"""Red/black listings (红黑名单) as a state machine, and the webhook each change sends.

    propose ─► notice ──take_effect (公示期 over)──► active ──remove──► removed
                 │  ▲                                  │
          appeal │  │ reject_appeal          appeal    │
                 ▼  │                                  ▼
               appealed ◄──────────────────────────────┘
                 │ uphold_appeal / withdraw
                 ▼
             withdrawn            (notice or appealed, when the rule no longer holds: withdraw)

An ``active`` listing restricts (or rewards) the enterprise; a listing in force stays in force while
it is appealed (``appealed`` with an ``effective_at``) unless a regulator admin suspends its restrictions
with a reason (``suspend``, kept until the appeal is decided) — an appeal alone lifts nothing (the
project's rule, issue 19 build 5: otherwise re-appeals keep a black-listed firm unrestricted for ever; no
text in shared/domain states a national clause for it). One appeal per listing; a regulator who
accepts new evidence allows one more (``accept_new_evidence``). ``notice`` is public but not yet in effect.
Every transition writes a credit_listing_events row, an audit row, and a signed webhook (template
``credit_list_changed``) to every department that subscribed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from backend.auth.principal import Principal
from backend.credit.audit import audit
from backend.credit.tables import CreditListing, CreditListingEvent
from backend.enterprises.tables import Enterprise
from backend.errors import Conflict
from backend.notifications import service as notifications_service
from backend.settings import Settings

OPEN_STATUSES = ("notice", "appealed", "active")
# action -> (statuses it may start from, the status it leads to; None: decided by the listing's dates)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "propose": (frozenset({""}), "notice"),
    "take_effect": (frozenset({"notice"}), "active"),
    "appeal": (frozenset({"notice", "active"}), "appealed"),
    "reject_appeal": (frozenset({"appealed"}), None),
    "uphold_appeal": (frozenset({"appealed"}), "withdrawn"),
    "withdraw": (frozenset({"notice", "appealed"}), "withdrawn"),
    "remove": (frozenset({"active"}), "removed"),
    # steps that keep the status ("="): written to the timeline like every other
    "suspend": (frozenset({"appealed"}), "="),
    "accept_new_evidence": (frozenset({"notice", "active"}), "="),
}
LIST_NAMES = {"red": "诚信红名单", "black": "失信黑名单"}
STATUS_NAMES = {
    "notice": "公示中", "appealed": "申诉中", "active": "已生效", "withdrawn": "已撤销", "removed": "已移出",
}


def target_status(action: str, current: str, row: dict[str, Any], now: datetime) -> str:
    """Where an action leads from the current status; raises CREDIT_LISTING_STATE if not allowed."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise Conflict("CREDIT_LISTING_STATE", detail={"action": action, "status": current})
    if target == "=":
        return current
    if target is None:  # an appeal turned down: back in effect, or back to the notice if it has not ended
        return "active" if row["effective_at"] is not None or row["notice_ends_at"] <= now else "notice"
    return target


async def open_listing(enterprise_id: UUID, list_kind: str) -> dict[str, Any] | None:
    return await CreditListing.select().where(
        (CreditListing.enterprise == enterprise_id) & (CreditListing.list_kind == list_kind)
        & CreditListing.status.is_in(list(OPEN_STATUSES))
    ).first()


async def propose(settings: Settings, arq: ArqRedis | None, enterprise_id: UUID, list_kind: str, reason: str,
                  now: datetime) -> dict[str, Any]:
    """Start a listing's public notice period (公示期)."""
    listing_id = uuid4()
    await CreditListing.insert(CreditListing(
        id=listing_id, enterprise=enterprise_id, list_kind=list_kind, status="notice", reason=reason,
        proposed_at=now, notice_ends_at=now + timedelta(days=settings.CREDIT_NOTICE_DAYS), updated_at=now,
    ))
    row = await CreditListing.select().where(CreditListing.id == listing_id).first()
    await _log(settings, arq, row, "propose", "", "notice", None, reason, now)
    return row


def restricting(row: dict[str, Any]) -> bool:
    """Does this listing restrict (or reward) now? In force: active, or appealed after it took effect and not
    suspended by a regulator. An appeal alone never lifts a listing in force."""
    if row["status"] == "active":
        return True
    return row["status"] == "appealed" and row["effective_at"] is not None and row["suspended_at"] is None


async def transition(settings: Settings, arq: ArqRedis | None, row: dict[str, Any], action: str,
                     actor: Principal | None, note: str, now: datetime,
                     extra: dict[Any, Any] | None = None) -> dict[str, Any]:
    """Move a listing by one allowed action; writes its event, the audit row and the webhook."""
    current = row["status"]
    target = target_status(action, current, row, now)
    changes: dict[Any, Any] = {CreditListing.status: target, CreditListing.updated_at: now, **(extra or {})}
    if current == "appealed" and target != "appealed":  # the appeal is decided: a suspension ends with it
        changes.update({CreditListing.suspended_at: None, CreditListing.suspended_by: None})
    if target == "active" and row["effective_at"] is None:
        changes[CreditListing.effective_at] = now
    if target in ("withdrawn", "removed"):
        changes[CreditListing.ended_at] = now
    updated = await CreditListing.update(changes).where(
        (CreditListing.id == row["id"]) & (CreditListing.status == current)
    ).returning(*CreditListing.all_columns())
    if not updated:
        raise Conflict("CREDIT_LISTING_STATE", detail={"action": action, "status": "changed meanwhile"})
    await _log(settings, arq, updated[0], action, current, target, actor, note, now)
    return updated[0]


async def _log(settings: Settings, arq: ArqRedis | None, row: dict[str, Any], action: str, before: str, after: str,
               actor: Principal | None, note: str, now: datetime) -> None:
    event = await CreditListingEvent.insert(CreditListingEvent(
        listing=row["id"], action=action, from_status=before, to_status=after,
        actor=actor.id if actor else None, note=note, at=now,
    )).returning(CreditListingEvent.id)
    await audit(actor, f"listing.{action}", row["enterprise"],
                {"listing": str(row["id"]), "list": row["list_kind"], "from": before, "to": after, "note": note})
    ent = await Enterprise.select(Enterprise.uscc, Enterprise.name).where(Enterprise.id == row["enterprise"]).first()
    await notifications_service.notify(
        [], "credit_list_changed",
        {
            "enterprise": ent["name"], "uscc": ent["uscc"], "list": row["list_kind"],
            "list_name": LIST_NAMES[row["list_kind"]], "action": action, "status": after,
            "status_name": STATUS_NAMES[after], "reason": note, "in_force": restricting(row), "listing_id": str(row["id"]),
            "notice_ends_at": row["notice_ends_at"].isoformat(),
            "effective_at": row["effective_at"].isoformat() if row["effective_at"] else None,
            "time": now,
        },
        dedup_key=f"credit:{row['id']}:{event[0]['id']}", settings=settings, arq=arq,
        subject=("credit_listing", str(row["id"])),
    )
