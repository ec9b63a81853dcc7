"""Credit (信用): the one writer of credit events, scores, listings, appeals — rules, no HTTP.

Integration point for other domains: ``record_event(...)``. Materials (failed lab reports), workforce
(failed spot checks, quality holds) and complaints (handled complaints about a project) call it; the
monitoring domain calls it with kind ``alarm_unacknowledged`` when an alarm passes its acknowledgement
deadline (evidence ``alarm:<id>``). Each call is idempotent per (enterprise, kind, evidence) and
recomputes that enterprise's score and listings at once; the ``credit_recompute`` cron re-applies
decay for everyone and starts listings whose notice period is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.credit import listings, scoring
from backend.credit.audit import audit
from backend.credit.schemas import (
    AppealDecision,
    AppealOut,
    CreditStatus,
    EnterpriseCredit,
    HistoryPoint,
    ListingDetail,
    ListingEventOut,
    ListingOut,
    ManualEventIn,
    Restriction,
)
from backend.credit.tables import (
    CreditAppeal,
    CreditListing,
    CreditListingEvent,
    CreditScore,
    CreditScoreHistory,
)
from backend.db import utcnow
from backend.enterprises.tables import Enterprise
from backend.errors import BadRequest, Conflict, NotFound
from backend.materials.schemas import CreditEventOut
from backend.materials.tables import CreditEvent
from backend.settings import Settings

KINDS = frozenset(scoring.KIND_POINTS)


async def record_event(
    enterprise_id: UUID,
    kind: str,
    evidence: str,
    *,
    settings: Settings,
    arq: ArqRedis | None,
    project_id: UUID | None = None,
    points: int | None = None,
    recorded_by: UUID | None = None,
    note: str = "",
    occurred_at: datetime | None = None,
    actor: Principal | None = None,
) -> UUID | None:
    """Record one credit event and rescore its enterprise; the same evidence twice records nothing (None)."""
    if kind not in KINDS:
        raise BadRequest("CREDIT_KIND_UNKNOWN", detail={"kind": kind})
    value = scoring.default_points(kind) if points is None else points
    when = occurred_at or utcnow()
    async with CreditEvent._meta.db.transaction():
        rows = await CreditEvent.raw(
            "INSERT INTO credit_events (id, enterprise, project, kind, points, evidence, occurred_at, recorded_by, note)"
            " VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {}, {}, {})"
            " ON CONFLICT (enterprise, kind, evidence) DO NOTHING RETURNING id",
            enterprise_id, project_id, kind, value, evidence[:200], when, recorded_by, note,
        )
        if not rows:
            return None
        event_id = rows[0]["id"]
        await audit(actor, "event.recorded", enterprise_id,
                    {"event": str(event_id), "kind": kind, "points": value, "evidence": evidence, "note": note,
                     "recorded_by": str(recorded_by) if recorded_by else None})
        await recompute(enterprise_id, f"event:{event_id}", settings=settings, arq=arq)
    return event_id


async def _events(enterprise_id: UUID, now: datetime) -> list[scoring.ScoredEvent]:
    rows = await CreditEvent.select(CreditEvent.kind, CreditEvent.points, CreditEvent.occurred_at).where(
        (CreditEvent.enterprise == enterprise_id)
        & (CreditEvent.occurred_at > now - timedelta(days=scoring.DECAY_DAYS))
    )
    return [scoring.ScoredEvent(r["kind"], r["points"], r["occurred_at"]) for r in rows]


async def recompute(enterprise_id: UUID, cause: str, *, settings: Settings, arq: ArqRedis | None,
                    now: datetime | None = None) -> float:
    """Rescore one enterprise from its events of the last 12 months; record the change; apply the list rules."""
    now = now or utcnow()
    async with CreditScore._meta.db.transaction():
        await CreditScore.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"credit:{enterprise_id}")
        events = await _events(enterprise_id, now)
        value = scoring.score(events, now)
        band = scoring.band(value)
        current = await CreditScore.select().where(CreditScore.enterprise == enterprise_id).first()
        previous = current["score"] if current else None
        if current is None:
            await CreditScore.insert(CreditScore(enterprise=enterprise_id, score=value, band=band, updated_at=now))
        elif previous != value:
            await CreditScore.update({CreditScore.score: value, CreditScore.band: band, CreditScore.updated_at: now}).where(
                CreditScore.enterprise == enterprise_id)
        if previous != value:
            await CreditScoreHistory.insert(CreditScoreHistory(
                enterprise=enterprise_id, score=value, previous=previous, band=band, cause=cause, at=now))
            await audit(None, "score.changed", enterprise_id, {"from": previous, "to": value, "band": band, "cause": cause})
        await _apply_list_rules(settings, arq, enterprise_id, value, events, now)
    return value


async def _apply_list_rules(settings: Settings, arq: ArqRedis | None, enterprise_id: UUID, value: float,
                            events: list[scoring.ScoredEvent], now: datetime) -> None:
    for kind, rule in (("black", scoring.black_due), ("red", scoring.red_due)):
        row = await listings.open_listing(enterprise_id, kind)
        due = rule(value, events, now, listed=row is not None)
        if due and row is None:
            reason = _reason(kind, value, events, now)
            await listings.propose(settings, arq, enterprise_id, kind, reason, now)
        elif not due and row is not None:
            action = "remove" if row["status"] == "active" else "withdraw"
            await listings.transition(settings, arq, row, action, None, f"不再符合{listings.LIST_NAMES[kind]}条件（{value} 分）", now)


def _reason(kind: str, value: float, events: list[scoring.ScoredEvent], now: datetime) -> str:
    if kind == "black":
        if any(e.kind in scoring.SERIOUS_KINDS for e in events if scoring.weight(now - e.occurred_at) > 0):
            return f"12 个月内有重大质量违法行为（{value} 分）"
        return f"信用分 {value} 低于 {scoring.BLACK_ENTER_BELOW:g}"
    return f"信用分 {value} 达到 {scoring.RED_ENTER_AT:g} 且 12 个月内无扣分"


async def take_effect_due(settings: Settings, arq: ArqRedis | None, now: datetime | None = None) -> int:
    """Listings whose notice period is over (and not under appeal) take effect."""
    now = now or utcnow()
    rows = await CreditListing.select().where(
        (CreditListing.status == "notice") & (CreditListing.notice_ends_at <= now))
    for row in rows:
        async with CreditListing._meta.db.transaction():  # the change and its webhook rows commit together
            await listings.transition(settings, arq, row, "take_effect", None, "公示期满，正式生效", now)
    return len(rows)


async def recompute_all(settings: Settings, arq: ArqRedis | None, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: decay moves scores as time passes; due listings take effect."""
    now = now or utcnow()
    ids = await CreditEvent.raw(
        "SELECT enterprise AS id FROM credit_events UNION SELECT enterprise FROM credit_scores")
    for r in ids:
        await recompute(r["id"], "recompute", settings=settings, arq=arq, now=now)
    effective = await take_effect_due(settings, arq, now)
    return {"rescored": len(ids), "took_effect": effective}


# --- manual events ----------------------------------------------------------------------------------------


async def _enterprise(enterprise_id: UUID) -> dict[str, Any]:
    row = await Enterprise.select().where(Enterprise.id == enterprise_id).first()
    if row is None:
        raise NotFound("ENTERPRISE_NOT_FOUND")
    return row


async def manual_event(settings: Settings, arq: ArqRedis | None, actor: Principal, data: ManualEventIn) -> CreditEventOut:
    """A regulator's deduction, bonus or serious violation, with a reason (serious: city-wide admins only)."""
    ent = await _enterprise(data.enterprise_id)
    access_policy.require(actor, "credit_admin", ent)
    if data.kind == "serious_violation":
        access_policy.require(actor, "city_admin", {"kind": data.kind})
    if data.points is not None and (data.points <= 0 if data.kind == "manual_bonus" else data.points >= 0):
        raise BadRequest("CREDIT_POINTS_SIGN", detail={"kind": data.kind, "points": data.points})
    if data.kind == "manual_bonus":
        await _check_bonus_cap(settings, data)
    evidence = data.evidence or f"manual:{utcnow().isoformat()}"
    event_id = await record_event(
        data.enterprise_id, data.kind, evidence, settings=settings, arq=arq, project_id=data.project_id,
        points=data.points, recorded_by=actor.id, note=data.reason, actor=actor,
    )
    if event_id is None:
        raise Conflict("CREDIT_EVENT_DUPLICATE")
    row = await CreditEvent.select().where(CreditEvent.id == event_id).first()
    return _event_out(row)


async def _check_bonus_cap(settings: Settings, data: ManualEventIn) -> None:
    """Manual bonuses are capped per enterprise per rolling 12 months (settings.CREDIT_BONUS_CAP)."""
    now = utcnow()
    room = scoring.bonus_room(await _events(data.enterprise_id, now), now, settings.CREDIT_BONUS_CAP)
    points = scoring.default_points("manual_bonus") if data.points is None else data.points
    if points > room:
        raise Conflict("CREDIT_BONUS_CAP", detail={"cap": settings.CREDIT_BONUS_CAP, "room": room, "points": points})


def _event_out(r: dict[str, Any]) -> CreditEventOut:
    return CreditEventOut(id=r["id"], enterprise_id=r["enterprise"], project_id=r["project"], kind=r["kind"],
                          points=r["points"], evidence=r["evidence"], occurred_at=r["occurred_at"], note=r["note"])


# --- status -----------------------------------------------------------------------------------------------


def listing_out(r: dict[str, Any]) -> ListingOut:
    return ListingOut(id=r["id"], enterprise_id=r["enterprise"], list_kind=r["list_kind"], status=r["status"],
                      reason=r["reason"], proposed_at=r["proposed_at"], notice_ends_at=r["notice_ends_at"],
                      effective_at=r["effective_at"], ended_at=r["ended_at"], in_force=listings.restricting(r),
                      suspended_at=r["suspended_at"], suspension_reason=r["suspension_reason"],
                      appeals_allowed=r["appeals_allowed"])


async def status_of(ent: dict[str, Any]) -> CreditStatus:
    """Score band, open listings, restrictions in effect and since when."""
    score = await CreditScore.select().where(CreditScore.enterprise == ent["id"]).first()
    rows = await CreditListing.select().where(
        (CreditListing.enterprise == ent["id"]) & CreditListing.status.is_in(list(listings.OPEN_STATUSES))
    ).order_by(CreditListing.proposed_at)
    active = [r for r in rows if listings.restricting(r)]
    restrictions = [Restriction(**x) for r in active for x in scoring.RESTRICTIONS[r["list_kind"]]]
    value = score["score"] if score else scoring.BASE
    return CreditStatus(
        uscc=ent["uscc"], name=ent["name"], score=value, band=score["band"] if score else scoring.band(value),
        lists=[listing_out(r) for r in rows],
        black_listed=any(r["list_kind"] == "black" for r in active),
        red_listed=any(r["list_kind"] == "red" for r in active),
        restrictions=restrictions,
        restricted_since=min((r["effective_at"] for r in active), default=None),
        score_updated_at=score["updated_at"] if score else None,
    )


async def enterprise_credit(actor: Principal, enterprise_id: UUID) -> EnterpriseCredit:
    """Regulators' view: status, score history and events of one enterprise."""
    ent = await _enterprise(enterprise_id)
    access_policy.require(actor, "read_credit", ent)
    history = await CreditScoreHistory.select().where(CreditScoreHistory.enterprise == enterprise_id).order_by(
        CreditScoreHistory.at, ascending=False).order_by(CreditScoreHistory.id, ascending=False).limit(100)
    events = await CreditEvent.select().where(CreditEvent.enterprise == enterprise_id).order_by(
        CreditEvent.occurred_at, ascending=False).limit(200)
    await audit(actor, "query.enterprise", enterprise_id, {})
    return EnterpriseCredit(
        status=await status_of(ent),
        history=[HistoryPoint(score=h["score"], previous=h["previous"], band=h["band"], cause=h["cause"], at=h["at"])
                 for h in history],
        events=[_event_out(e) for e in events],
    )


async def list_listings(actor: Principal, list_kind: str | None, status: str | None, limit: int, offset: int
                        ) -> list[ListingOut]:
    """Listings, newest first (staff); the lists are public information, so no district filter."""
    access_policy.require(actor, "staff", {})
    query = CreditListing.select()
    if list_kind:
        query = query.where(CreditListing.list_kind == list_kind)
    if status:
        query = query.where(CreditListing.status == status)
    rows = await query.order_by(CreditListing.proposed_at, ascending=False).limit(limit).offset(offset)
    return [listing_out(r) for r in rows]


async def _listing(listing_id: UUID) -> dict[str, Any]:
    row = await CreditListing.select().where(CreditListing.id == listing_id).first()
    if row is None:
        raise NotFound("CREDIT_LISTING_NOT_FOUND")
    return row


def _appeal_out(a: dict[str, Any]) -> AppealOut:
    return AppealOut(id=a["id"], listing_id=a["listing"], status=a["status"], reason=a["reason"],
                     decision_note=a["decision_note"], submitted_at=a["submitted_at"], decided_at=a["decided_at"])


async def listing_detail(actor: Principal, listing_id: UUID) -> ListingDetail:
    """A listing with its timeline and appeals: staff, or the listed enterprise's own people."""
    row = await _listing(listing_id)
    access_policy.require(actor, "read_listing", row)
    timeline = await CreditListingEvent.select().where(CreditListingEvent.listing == listing_id).order_by(
        CreditListingEvent.id)
    appeals = await CreditAppeal.select().where(CreditAppeal.listing == listing_id).order_by(CreditAppeal.submitted_at)
    return ListingDetail(
        listing=listing_out(row),
        timeline=[ListingEventOut(action=t["action"], from_status=t["from_status"], to_status=t["to_status"],
                                  note=t["note"], at=t["at"]) for t in timeline],
        appeals=[_appeal_out(a) for a in appeals],
    )


# --- appeals ----------------------------------------------------------------------------------------------


async def submit_appeal(settings: Settings, arq: ArqRedis | None, actor: Principal, listing_id: UUID, reason: str
                        ) -> AppealOut:
    """The listed enterprise (its project lead or supervisor accounts) appeals; the listing waits."""
    row = await _listing(listing_id)
    access_policy.require(actor, "appeal_listing", row)
    now = utcnow()
    async with CreditListing._meta.db.transaction():
        listings.target_status("appeal", row["status"], row, now)  # the state first: appealed twice at once is a state error
        made = await CreditAppeal.count().where(CreditAppeal.listing == listing_id)
        if made >= row["appeals_allowed"]:
            raise Conflict("CREDIT_APPEAL_LIMIT", detail={"appeals": made, "allowed": row["appeals_allowed"]})
        row = await listings.transition(settings, arq, row, "appeal", actor, reason, now)
        appeal = CreditAppeal(listing=listing_id, submitted_by=actor.id, reason=reason, submitted_at=now)
        await appeal.save()
        await audit(actor, "appeal.submitted", row["enterprise"], {"appeal": str(appeal.id), "listing": str(listing_id)})
    return _appeal_out(await CreditAppeal.select().where(CreditAppeal.id == appeal.id).first())


async def decide_appeal(settings: Settings, arq: ArqRedis | None, actor: Principal, appeal_id: UUID,
                        data: AppealDecision) -> AppealOut:
    """A regulator admin decides: upheld withdraws the listing; rejected puts it back on its way."""
    appeal = await CreditAppeal.select().where(CreditAppeal.id == appeal_id).first()
    if appeal is None:
        raise NotFound("CREDIT_APPEAL_NOT_FOUND")
    row = await _listing(appeal["listing"])
    access_policy.require(actor, "credit_admin", await _enterprise(row["enterprise"]))
    if appeal["status"] != "submitted":
        raise Conflict("CREDIT_APPEAL_DECIDED")
    now = utcnow()
    outcome = "upheld" if data.upheld else "rejected"
    async with CreditListing._meta.db.transaction():
        await listings.transition(settings, arq, row, "uphold_appeal" if data.upheld else "reject_appeal", actor,
                                  data.note, now)
        await CreditAppeal.update({CreditAppeal.status: outcome, CreditAppeal.decided_by: actor.id,
                                   CreditAppeal.decision_note: data.note, CreditAppeal.decided_at: now}).where(
            CreditAppeal.id == appeal_id)
        await audit(actor, "appeal.decided", row["enterprise"], {"appeal": str(appeal_id), "outcome": outcome})
    return _appeal_out(await CreditAppeal.select().where(CreditAppeal.id == appeal_id).first())


async def suspend_restrictions(settings: Settings, arq: ArqRedis | None, actor: Principal, listing_id: UUID,
                               reason: str) -> ListingOut:
    """A regulator admin suspends an appealed black listing's restrictions, with a reason, until the appeal is
    decided (an appeal alone lifts nothing)."""
    row = await _listing(listing_id)
    access_policy.require(actor, "credit_admin", await _enterprise(row["enterprise"]))
    if row["list_kind"] != "black" or row["status"] != "appealed" or row["effective_at"] is None or row["suspended_at"]:
        raise Conflict("CREDIT_SUSPEND_NOT_APPLICABLE", detail={"status": row["status"], "list": row["list_kind"]})
    now = utcnow()
    async with CreditListing._meta.db.transaction():
        row = await listings.transition(settings, arq, row, "suspend", actor, reason, now, extra={
            CreditListing.suspended_at: now, CreditListing.suspended_by: actor.id,
            CreditListing.suspension_reason: reason})
    return listing_out(row)


async def accept_new_evidence(settings: Settings, arq: ArqRedis | None, actor: Principal, listing_id: UUID,
                              reason: str) -> ListingOut:
    """A regulator admin accepts new evidence after an appeal was turned down: one more appeal is allowed."""
    row = await _listing(listing_id)
    access_policy.require(actor, "credit_admin", await _enterprise(row["enterprise"]))
    if not await CreditAppeal.exists().where((CreditAppeal.listing == listing_id) & (CreditAppeal.status == "rejected")):
        raise Conflict("CREDIT_LISTING_STATE", detail={"action": "accept_new_evidence", "status": row["status"]})
    async with CreditListing._meta.db.transaction():
        row = await listings.transition(settings, arq, row, "accept_new_evidence", actor, reason, utcnow(), extra={
            CreditListing.appeals_allowed: row["appeals_allowed"] + 1})
    return listing_out(row)


async def recompute_now(settings: Settings, arq: ArqRedis | None, actor: Principal) -> dict[str, int]:
    """A city-wide admin runs the periodic job at once."""
    access_policy.require(actor, "city_admin", {})
    await audit(actor, "recompute.requested", None, {})
    return await recompute_all(settings, arq)


async def complaint_substantiated(complaint: dict[str, Any], actor_id: UUID | None, *, settings: Settings,
                                  arq: ArqRedis | None) -> None:
    """A complaint about a project was handled (resolved): it counts against the general contractor(s)."""
    if complaint.get("project") is None:
        return
    parties = await CreditEvent.raw(
        "SELECT enterprise FROM project_parties WHERE project = {} AND role = 'general_contractor'", complaint["project"])
    for p in parties:
        await record_event(p["enterprise"], "complaint_substantiated", f"complaint:{complaint['id']}", settings=settings,
                           arq=arq, project_id=complaint["project"], recorded_by=actor_id,
                           note=f"投诉 {complaint.get('number', '')} 经核实已处理")
