"""Scan-to-trace (扫码溯源): verify a label, raise counterfeit / diversion alerts, answer the public trace view.

The hot path touches Redis only: the label's facts and the batch's trace view are cached (dropped on
every change); each scan is counted and located in a Redis stream that the ARQ job `flush_material_scans`
moves to PostgreSQL through a consumer group: an entry is acknowledged only after its rows committed, an
entry a dead flusher had read is claimed again, and the entry id is unique in material_scans, so a scan is
counted exactly once. Alerting scans (counterfeit, revoked, failed or removed batch, diversion) are written to
PostgreSQL at once and tell the station.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import structlog
from arq.connections import ArqRedis
from redis.asyncio import Redis

from backend.accounts.tables import User
from backend.auth.principal import Principal, Role
from backend.db import utcnow
from backend.districts import service as districts_service
from backend.errors import NotFound
from backend.geo.coords import to_gcj02
from backend.geo.distance import haversine_m
from backend.materials import qr
from backend.materials.rules import Status, usable
from backend.materials.schemas import ScanIn
from backend.materials.service import LABEL_KEY, REVOKED_KEY, TRACE_KEY
from backend.materials.tables import (
    EntryInspection,
    LabReport,
    MaterialAlert,
    MaterialBatch,
    MaterialLabel,
    MaterialScan,
    Sampling,
    TransportLeg,
    UseRecord,
)
from backend.notifications import service as notifications
from backend.notifications.schemas import Urgency
from backend.projects.tables import Project
from backend.settings import Settings
from backend.workforce import spotchecks

log = structlog.get_logger("zhijian.materials.trace")

SCAN_STREAM = "mat:scans"  # XADD per counted scan; consumer group FLUSH_GROUP moves them to PostgreSQL
FLUSH_GROUP = "flush"
LEGACY_SCAN_LOG_KEY = "mat:scanlog"  # the list used before the stream: drained into the stream on flush
CLAIM_IDLE_MS = 60_000  # an entry read but not acknowledged for this long belongs to a dead flusher
_FAILED = {Status.NON_CONFORMING.value, Status.RETEST_PENDING.value, Status.ENTRY_REJECTED.value}
_STATUS_RE = re.compile(rb'"status":"([a-z_]+)"')  # the first "status" of a trace view is the batch's
ALERT_ONCE_S = 3600  # the same label / forged string alerts once an hour, however often it is scanned


def mask_plate(plate: str) -> str:
    """浙C·12345 → 浙C***45: enough to match a delivery note, not to track a driver."""
    return plate if len(plate) <= 4 else plate[:2] + "*" * (len(plate) - 4) + plate[-2:]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def build_trace(batch_id: UUID) -> dict[str, Any]:
    """The public trace view of a batch: no personal data (people are not named)."""
    b = await MaterialBatch.select(
        *MaterialBatch.all_columns(),
        MaterialBatch.manufacturer.name.as_alias("m_name"), MaterialBatch.manufacturer.uscc.as_alias("m_uscc"),
        MaterialBatch.project.name.as_alias("p_name"), MaterialBatch.project.address.as_alias("p_address"),
    ).where(MaterialBatch.id == batch_id).first()
    if b is None:
        raise NotFound("BATCH_NOT_FOUND")
    legs = await TransportLeg.select().where(TransportLeg.batch == batch_id).order_by(TransportLeg.departed_at)
    entries = await EntryInspection.select().where(EntryInspection.batch == batch_id).order_by(
        EntryInspection.inspected_at)
    samples = await Sampling.select(*Sampling.all_columns(), Sampling.lab.name.as_alias("lab_name")).where(
        Sampling.batch == batch_id).order_by(Sampling.sampled_at)
    reports = await LabReport.select(*LabReport.all_columns(), LabReport.lab.name.as_alias("lab_name")).where(
        LabReport.batch == batch_id).order_by(LabReport.created_at).output(load_json=True)
    uses = await UseRecord.select().where(UseRecord.batch == batch_id).order_by(UseRecord.used_at)
    status = Status(b["status"])
    return {
        "batch": {
            "id": str(b["id"]), "material": b["material"], "grade": b["grade"], "spec": b["spec"],
            "production_batch_no": b["production_batch_no"], "production_date": b["production_date"].isoformat(),
            "quantity": float(b["quantity"]), "unit": b["unit"], "status": status.value,
            "usable": usable(status, b["use_decision"]),
            "has_certificate": b["certificate_key"] is not None, "version": b["version"],
        },
        "manufacturer": {"id": str(b["manufacturer"]), "name": b["m_name"], "uscc": b["m_uscc"]},
        "project": {"id": str(b["project"]), "name": b["p_name"], "address": b["p_address"],
                    "district_adcode": b["district"]},
        "transport": [{"vehicle": mask_plate(x["vehicle"]), "origin": x["origin"], "destination": x["destination"],
                       "departed_at": _iso(x["departed_at"]), "arrived_at": _iso(x["arrived_at"]),
                       "has_track": x["track"] is not None} for x in legs],
        "entry_inspections": [{"accepted": x["accepted"], "at": _iso(x["inspected_at"]),
                               "quantity_received": None if x["quantity_received"] is None
                               else float(x["quantity_received"])} for x in entries],
        "samplings": [{"sample_no": x["sample_no"], "witnessed": x["witness"] is not None, "lab": x["lab_name"],
                       "at": _iso(x["sampled_at"])} for x in samples],
        "reports": [{"report_no": x["report_no"], "lab": x["lab_name"], "report_date": x["report_date"].isoformat(),
                     "standard": x["standard"], "method": x["method"], "verdict": x["verdict"],
                     "results": x["results"]} for x in reports],
        "uses": [{"building": x["building"], "floor": x["floor"], "element": x["element"],
                  "quantity": None if x["quantity"] is None else float(x["quantity"]), "at": _iso(x["used_at"])}
                 for x in uses],
        "spot_checks": await spotchecks.for_batch(batch_id),
    }


async def trace_bytes(settings: Settings, redis: Redis, batch_id: UUID) -> bytes:
    """The cached trace view (JSON bytes); built from PostgreSQL on a miss."""
    key = TRACE_KEY.format(batch_id)
    cached = await redis.get(key)
    if cached is not None:
        return cached
    view = await build_trace(batch_id)
    body = json.dumps(view, ensure_ascii=False, separators=(",", ":")).encode()
    # Cache only if nothing changed while building: a change commits, then drops the key, so a view
    # built from older rows must not be stored after that drop.
    now = await MaterialBatch.select(MaterialBatch.version).where(MaterialBatch.id == batch_id).first()
    if now is not None and now["version"] == view["batch"]["version"]:
        await redis.set(key, body, ex=settings.MATERIAL_TRACE_CACHE_S)
    return body


# One round trip for a scan's cached reads: the label's facts, whether it is revoked, and its batch's trace
# view (the batch named inside the facts). A pipeline cannot do the third read, which depends on the first.
_FACTS_AND_TRACE = """
local facts = redis.call('GET', KEYS[1])
local revoked = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local trace = false
if facts then
  local batch = string.match(facts, '"batch": *"([0-9a-f-]+)"')
  if batch then trace = redis.call('GET', ARGV[2] .. batch) end
end
return {facts, revoked, trace}
"""
_scripts: dict[str, Any] = {}


async def _facts_and_trace(settings: Settings, redis: Redis, label_id: UUID
                           ) -> tuple[dict[str, Any] | None, bytes | None]:
    """The label's facts (cached, else loaded) and the cached trace view of its batch (None when not cached)."""
    script = _scripts.get("facts_and_trace")
    if script is None:
        script = _scripts["facts_and_trace"] = redis.register_script(_FACTS_AND_TRACE)
    cached, revoked, trace = await script(keys=[LABEL_KEY.format(label_id), REVOKED_KEY],
                                          args=[str(label_id), TRACE_KEY.format("")], client=redis)
    if cached is None:
        facts = await _load_label_facts(settings, redis, label_id)
        if facts is None:
            return None, None
        trace = await redis.get(TRACE_KEY.format(facts["batch"]))
    else:
        facts = json.loads(cached)
    facts["revoked"] = facts["revoked"] or bool(revoked)  # a revocation wins over facts cached before it
    return facts, trace


async def _load_label_facts(settings: Settings, redis: Redis, label_id: UUID) -> dict[str, Any] | None:
    """What a scan needs to know about a label, read from PostgreSQL and cached (dropped when it is revoked)."""
    key = LABEL_KEY.format(label_id)
    row = await MaterialLabel.select(
        MaterialLabel.id, MaterialLabel.batch, MaterialLabel.serial, MaterialLabel.revoked_at,
        MaterialLabel.batch.project.as_alias("project"), MaterialLabel.batch.district.as_alias("district"),
    ).where(MaterialLabel.id == label_id).first()
    if row is None:
        return None
    project = await Project.select(Project.lng, Project.lat).where(Project.id == row["project"]).first()
    facts = {"batch": str(row["batch"]), "serial": row["serial"], "revoked": row["revoked_at"] is not None,
             "project": str(row["project"]), "district": row["district"],
             "lng": project["lng"], "lat": project["lat"]}
    await redis.set(key, json.dumps(facts), ex=settings.MATERIAL_TRACE_CACHE_S)
    return facts


_KIND_ZH = {"counterfeit": "疑似伪造", "revoked": "作废标签", "diversion": "疑似挪用", "failed": "不合格材料",
            "removed": "已退场材料"}
_REASON_ZH = {"bad_signature": "签名不符", "unknown_key": "签名密钥未知", "malformed": "不是本系统标签",
              "unknown_label": "标签不存在", "other_project": "在其他项目扫码", "far_from_site": "远离供货工地",
              "batch_failed": "不合格批次的标签被扫码", "batch_removed": "已退场批次的标签被扫码"}


async def _alert(settings: Settings, redis: Redis, arq: ArqRedis | None, kind: str, once_key: str, *,
                 batch: str | None, label: UUID | None, district: int | None, scan: dict[str, Any],
                 detail: dict[str, Any]) -> dict[str, Any]:
    """Write the scan and its alert now (once an hour per subject), tell the station, say what was raised."""
    alert = {"kind": kind, **detail}
    if not await redis.set(f"mat:alert:{kind}:{once_key}", "1", nx=True, ex=ALERT_ONCE_S):
        return {**alert, "repeat": True}
    scan_id, alert_id = uuid4(), uuid4()
    async with MaterialScan._meta.db.transaction():
        await MaterialScan.insert(MaterialScan(id=scan_id, label=label, outcome=scan["outcome"],
                                               scanned_by=scan["user"], lng=scan["lng"], lat=scan["lat"],
                                               district=scan["district"]))
        await MaterialAlert.insert(MaterialAlert(
            id=alert_id, kind=kind, batch=UUID(batch) if batch else None, label=label, scan=scan_id,
            district=district if district is not None else scan["district"],
            detail=json.dumps({**detail, "scan_district": scan["district"], "lng": scan["lng"], "lat": scan["lat"],
                               "coord_type": "gcj02"},  # the scan's location, converted (issue 19: say the system)
                              ensure_ascii=False)))
        where = district if district is not None else scan["district"]
        if where is not None:  # the notice commits with the alert it reports
            await _notify_station(settings, arq, alert_id, kind, where, batch, detail)
    log.warning("material_alert", kind=kind, label=str(label) if label else None, batch=batch)
    return {**alert, "id": str(alert_id), "repeat": False}


async def _notify_station(settings: Settings, arq: ArqRedis | None, alert_id: UUID, kind: str, district: int,
                          batch: str | None, detail: dict[str, Any]) -> None:
    """The district's inspectors and admins hear of every new alert (template material_alert)."""
    staff = [r["id"] for r in await User.select(User.id).where(
        (User.district == district) & User.role.is_in([Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value])
        & (User.is_active == True))]
    if not staff:
        return
    material, project = "未知材料", "未知项目"
    if batch is not None:
        row = await MaterialBatch.select(MaterialBatch.grade, MaterialBatch.spec,
                                         MaterialBatch.project.name.as_alias("p")).where(
            MaterialBatch.id == UUID(batch)).first()
        if row:
            material, project = f"{row['grade']} {row['spec']}".strip(), row["p"]
    reason = _REASON_ZH.get(str(detail.get("reason", "")), "已作废标签被扫描")
    await notifications.notify(
        staff, "material_alert",
        {"kind": _KIND_ZH[kind], "material": material, "project": project, "detail": reason, "time": utcnow()},
        dedup_key=f"material_alert:{alert_id}", urgency=Urgency.HIGH, settings=settings, arq=arq,
        subject=("material_alert", str(alert_id)),
    )


async def scan(settings: Settings, redis: Redis, actor: Principal, data: ScanIn, arq: ArqRedis | None = None
               ) -> bytes:
    """Verify a scanned label and answer {outcome, alert, label, trace} as JSON bytes."""
    lng = lat = district = None
    if data.location is not None:
        lng, lat = to_gcj02(data.location.lng, data.location.lat, data.location.coord_type)
        district = await districts_service.locate_adcode(lng, lat)
    scan_rec: dict[str, Any] = {"user": actor.id if actor.kind == "user" else None, "lng": lng, "lat": lat,
                                "district": district, "outcome": "ok"}
    cached_trace: bytes | None = None
    try:
        ref = qr.verify(settings, data.content)
        facts, cached_trace = await _facts_and_trace(settings, redis, ref.label_id)
    except qr.TokenInvalid as exc:
        ref, facts, reason = None, None, exc.reason
    else:
        reason = "unknown_label" if facts is None else ""
    if facts is None:
        # A string we did not sign (or a label that does not exist): a counterfeit.
        scan_rec["outcome"] = "bad_signature" if reason != "unknown_label" else "unknown_label"
        digest = hashlib.sha256(data.content.encode()).hexdigest()[:32]
        alert = await _alert(settings, redis, arq, "counterfeit", digest, batch=None, label=None, district=None, scan=scan_rec,
                             detail={"reason": reason, "content_sha256": digest})
        return _envelope("counterfeit", alert, None, b"null")
    label_id = ref.label_id  # type: ignore[union-attr]
    alert = None
    trace = cached_trace
    if trace is None:
        trace = await trace_bytes(settings, redis, UUID(facts["batch"]))
    found = _STATUS_RE.search(trace)
    status = found.group(1).decode() if found else ""
    if facts["revoked"]:
        scan_rec["outcome"] = "revoked"
        alert = await _alert(settings, redis, arq, "revoked", str(label_id), batch=facts["batch"], label=label_id,
                             district=facts["district"], scan=scan_rec, detail={"serial": facts["serial"]})
    elif status in _FAILED or status == Status.REMOVED.value:
        # A failed or removed batch's label is still being scanned: the material may be on a site. Say so.
        kind = "removed" if status == Status.REMOVED.value else "failed"
        scan_rec["outcome"] = kind
        alert = await _alert(settings, redis, arq, kind, str(label_id), batch=facts["batch"], label=label_id,
                             district=facts["district"], scan=scan_rec,
                             detail={"reason": f"batch_{kind}", "status": status, "serial": facts["serial"]})
    else:
        wrong = None
        if data.project_id is not None and str(data.project_id) != facts["project"]:
            wrong = {"reason": "other_project", "scanned_project": str(data.project_id)}
        elif lng is not None and lat is not None:
            away = haversine_m(lng, lat, facts["lng"], facts["lat"])
            if away > settings.MATERIAL_SITE_RADIUS_M:
                wrong = {"reason": "far_from_site", "distance_m": round(away)}
        if wrong is not None:
            scan_rec["outcome"] = "wrong_site"
            place = data.project_id or f"{round(lng or 0, 3)},{round(lat or 0, 3)}"
            alert = await _alert(settings, redis, arq, "diversion", f"{label_id}:{place}", batch=facts["batch"],
                                 label=label_id, district=facts["district"], scan=scan_rec, detail=wrong)
    outcome = scan_rec["outcome"]
    if alert is None or alert.get("repeat"):
        # Counted and located in bulk (flush_material_scans); alerting scans were written already.
        entry = json.dumps({"label": str(label_id), "outcome": outcome, "user": str(scan_rec["user"] or ""),
                            "lng": lng, "lat": lat, "district": district,
                            "at": datetime.now(UTC).isoformat()})
        await redis.xadd(SCAN_STREAM, {"e": entry})
    label = {"id": str(label_id), "serial": facts["serial"], "revoked": facts["revoked"]}
    return _envelope(outcome, alert, label, trace)


def _envelope(outcome: str, alert: dict[str, Any] | None, label: dict[str, Any] | None, trace: bytes) -> bytes:
    head = json.dumps({"outcome": outcome, "alert": alert, "label": label}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    return head[:-1] + b',"trace":' + trace + b"}"


async def scan_photo(settings: Settings, redis: Redis, actor: Principal, photo: bytes,
                     data: ScanIn | None = None, arq: ArqRedis | None = None) -> bytes:
    """Decode a photo of a label (zxing-cpp) and scan what it holds."""
    from backend.errors import BadRequest

    try:
        found = qr.decode_photo(photo)
    except ValueError as exc:
        raise BadRequest("IMAGE_REJECTED", detail={"reason": "NOT_AN_IMAGE"}) from exc
    if not found:
        raise BadRequest("QR_NOT_FOUND")
    loc = data.location if data else None
    return await scan(settings, redis, actor, ScanIn(content=found[0][:512], location=loc,
                                                     project_id=data.project_id if data else None), arq)


_DRAIN_LEGACY = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for _, v in ipairs(items) do redis.call('XADD', KEYS[2], '*', 'e', v) end
redis.call('DEL', KEYS[1])
return #items
"""


async def _ensure_group(redis: Redis) -> None:
    try:
        await redis.xgroup_create(SCAN_STREAM, FLUSH_GROUP, id="0", mkstream=True)
    except Exception as exc:  # BUSYGROUP: it exists
        if "BUSYGROUP" not in str(exc):
            raise


def _consumer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def read_scans(redis: Redis, max_items: int = 5000, consumer: str | None = None,
                     claim_idle_ms: int = CLAIM_IDLE_MS) -> list[tuple[bytes, dict[str, Any]]]:
    """Take up to max_items counted scans: first those a dead flusher left unacknowledged, then new ones."""
    await _ensure_group(redis)
    await redis.eval(_DRAIN_LEGACY, 2, LEGACY_SCAN_LOG_KEY, SCAN_STREAM)  # atomic: nothing lost on the way
    consumer = consumer or _consumer()
    claimed = await redis.xautoclaim(SCAN_STREAM, FLUSH_GROUP, consumer, min_idle_time=claim_idle_ms,
                                     start_id="0-0", count=max_items)
    entries = [(eid, fields) for eid, fields in claimed[1] if fields]
    if len(entries) < max_items:
        fresh = await redis.xreadgroup(FLUSH_GROUP, consumer, {SCAN_STREAM: ">"}, count=max_items - len(entries))
        for _stream, items in fresh or []:
            entries += [(eid, fields) for eid, fields in items if fields]
    return [(eid, json.loads(fields[b"e"])) for eid, fields in entries]


async def store_scans(entries: list[tuple[bytes, dict[str, Any]]]) -> int:
    """Write scans and add them to their labels' counters, each stream entry at most once. Returns rows added."""
    if not entries:
        return 0
    known = {r["id"] for r in await MaterialLabel.select(MaterialLabel.id).where(
        MaterialLabel.id.is_in(list({UUID(e["label"]) for _, e in entries})))}
    rows = []
    for eid, e in entries:
        lid = UUID(e["label"])
        if lid not in known:
            continue
        rows.append(MaterialScan(label=lid, outcome=e["outcome"], scanned_by=UUID(e["user"]) if e["user"] else None,
                                 lng=e["lng"], lat=e["lat"], district=e["district"],
                                 at=datetime.fromisoformat(e["at"]), stream_id=eid.decode()))
    added = 0
    async with MaterialScan._meta.db.transaction():
        counts: dict[UUID, int] = {}
        last: dict[UUID, datetime] = {}
        for i in range(0, len(rows), 1000):  # PostgreSQL takes at most 32,767 bind parameters
            done = await MaterialScan.insert(*rows[i:i + 1000]).on_conflict(
                target=MaterialScan.stream_id, action="DO NOTHING").returning(MaterialScan.label, MaterialScan.at)
            for r in done:  # only the rows not stored before are counted
                counts[r["label"]] = counts.get(r["label"], 0) + 1
                last[r["label"]] = max(last.get(r["label"], r["at"]), r["at"])
        for lid, n in counts.items():
            added += n
            await MaterialLabel.update({MaterialLabel.scan_count: MaterialLabel.scan_count + n,
                                        MaterialLabel.last_scan_at: last[lid]}).where(MaterialLabel.id == lid)
    return added


async def flush_scans(redis: Redis, max_items: int = 5000, consumer: str | None = None,
                      claim_idle_ms: int = CLAIM_IDLE_MS) -> int:
    """Move counted scans from the Redis stream to PostgreSQL; acknowledge them only after the commit.
    Returns how many stream entries were handled (0: nothing waiting)."""
    entries = await read_scans(redis, max_items, consumer, claim_idle_ms)
    if not entries:
        return 0
    await store_scans(entries)
    ids = [eid for eid, _ in entries]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xack(SCAN_STREAM, FLUSH_GROUP, *ids)
        pipe.xdel(SCAN_STREAM, *ids)
        await pipe.execute()
    return len(entries)


async def scan_stats(label_id: UUID) -> dict[str, Any]:
    row = await MaterialLabel.select(MaterialLabel.scan_count, MaterialLabel.last_scan_at).where(
        MaterialLabel.id == label_id).first()
    if row is None:
        raise NotFound("LABEL_NOT_FOUND")
    return {"scan_count": row["scan_count"], "last_scan_at": row["last_scan_at"], "now": utcnow()}
