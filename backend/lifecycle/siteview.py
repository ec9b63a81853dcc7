"""The live site view (工地实时状态): one project's state gathered for regulators' page and the mini-program.

The data (``site_data``) is one JSON: the stage and its timeline, open alarms with their latest readings,
each camera's latest analysed frame and open alerts, workers on site today against the roster, open
complaints with their SLA state, material batches by verdict, quality holds, inspection requests, and
what blocks the next acceptance. Other domains' rows are read with one SQL statement each (read-only).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from backend import db
from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.clients.s3 import S3Client
from backend.db import utcnow
from backend.lifecycle import access, assessments, inspections, stages
from backend.lifecycle.rules import STAGE_ORDER, STAGE_ZH, Stage
from backend.projects import service as projects_service
from backend.settings import Settings

EVIDENCE_BUCKET = "evidence"  # where the vision worker keeps analysed frames (backend.cameras.service)

_ALARMS = """
SELECT a.id, a.metric, a.level, a.status, a.first_at, a.last_at, p.code AS point, r.value AS latest_value,
       r.ts AS latest_ts, s.unit
FROM monitoring_alarms a
JOIN monitoring_points p ON p.id = a.point
JOIN monitoring_sensors s ON s.id = a.sensor
LEFT JOIN LATERAL (SELECT value, ts FROM monitoring_readings WHERE sensor = a.sensor ORDER BY ts DESC LIMIT 1) r
  ON TRUE
WHERE a.project = $1 AND a.status <> 'cleared'
ORDER BY a.level DESC, a.first_at
"""
_CAMERAS = """
SELECT c.id, c.name, f.id AS frame_id, f.analysed_at, f.evidence_key,
       (SELECT count(*) FROM camera_alerts al WHERE al.camera = c.id AND al.created_at > $2) AS alerts_24h,
       (SELECT al.rule FROM camera_alerts al WHERE al.camera = c.id ORDER BY al.created_at DESC LIMIT 1) AS last_rule,
       (SELECT al.created_at FROM camera_alerts al WHERE al.camera = c.id ORDER BY al.created_at DESC LIMIT 1)
         AS last_alert_at
FROM cameras c
LEFT JOIN LATERAL (SELECT id, analysed_at, evidence_key FROM camera_frames
                   WHERE camera = c.id AND status = 'done' ORDER BY analysed_at DESC NULLS LAST LIMIT 1) f ON TRUE
WHERE c.project = $1
ORDER BY c.name
"""
_WORKERS = """
SELECT (SELECT count(*) FROM project_workers WHERE project = $1 AND exited_at IS NULL) AS roster,
       (SELECT count(DISTINCT worker) FROM worker_clocks WHERE project = $1 AND kind = 'in'
          AND at >= $2 AND at < $3) AS on_site_today
"""
_COMPLAINTS = """
SELECT id, number, status, deadline_at, paused_at FROM complaints
WHERE project = $1 AND status = ANY($2::text[]) ORDER BY deadline_at
"""
_BATCHES = "SELECT status, count(*) AS n FROM material_batches WHERE project = $1 GROUP BY status ORDER BY status"
_HOLDS = """
SELECT h.id, e.name AS enterprise, h.status, h.started_at, h.lifted_at FROM quality_holds h
JOIN enterprises e ON e.id = h.enterprise WHERE h.project = $1 ORDER BY h.started_at DESC LIMIT 20
"""


def sla_state(status: str, deadline_at: datetime, paused_at: datetime | None, now: datetime) -> str:
    """paused, overdue, due_soon (under 24 h left) or on_time."""
    if paused_at is not None or status == "waiting_info":
        return "paused"
    if deadline_at <= now:
        return "overdue"
    return "due_soon" if deadline_at - now < timedelta(hours=24) else "on_time"


async def site_data(settings: Settings, s3: S3Client | None, project_id: UUID, now: datetime | None = None
                    ) -> dict[str, Any]:
    """Everything the site view shows, JSON-able (no access check: callers check the reader first)."""
    from backend.complaints.rules import OPEN as COMPLAINT_OPEN  # read-only use of the status set

    now = now or utcnow()
    zone = settings.zone()
    project = await projects_service.get_project_row(project_id)
    stage = await stages.view(project)
    local_today = now.astimezone(zone).date()
    day_start = datetime.combine(local_today, time(0), tzinfo=zone)
    async with db.connection() as conn:
        alarms = await conn.fetch(_ALARMS, project_id)
        cameras = await conn.fetch(_CAMERAS, project_id, now - timedelta(hours=24))
        workers = await conn.fetchrow(_WORKERS, project_id, day_start, day_start + timedelta(days=1))
        complaints = await conn.fetch(_COMPLAINTS, project_id, sorted(s.value for s in COMPLAINT_OPEN))
        batches = await conn.fetch(_BATCHES, project_id)
        holds = await conn.fetch(_HOLDS, project_id)
    reached_at = {e.to_stage: e.at for e in stage.events}
    initial = stage.events[0].from_stage if stage.events else project["stage"]
    reached_at.setdefault(initial, project["created_at"])  # registered at this stage
    current = STAGE_ORDER.index(Stage(project["stage"]))
    timeline = [{"stage": s.value, "zh": STAGE_ZH[s], "reached": i <= current, "current": i == current,
                 "at": reached_at[s.value].astimezone(zone).isoformat() if s.value in reached_at else None}
                for i, s in enumerate(STAGE_ORDER)]
    camera_out = []
    for c in cameras:
        url = None
        if s3 is not None and c["evidence_key"]:
            url = await s3.presigned_get(EVIDENCE_BUCKET, c["evidence_key"])
        camera_out.append({
            "id": str(c["id"]), "name": c["name"], "frame_id": str(c["frame_id"]) if c["frame_id"] else None,
            "analysed_at": c["analysed_at"].astimezone(zone).isoformat() if c["analysed_at"] else None,
            "evidence_url": url, "alerts_24h": c["alerts_24h"], "last_rule": c["last_rule"],
            "last_alert_at": c["last_alert_at"].astimezone(zone).isoformat() if c["last_alert_at"] else None})
    return {
        "project": {"id": str(project["id"]), "name": project["name"], "permit_no": project["permit_no"],
                    "address": project["address"], "district_adcode": project["district"],
                    "stage": project["stage"], "stage_zh": STAGE_ZH[Stage(project["stage"])]},
        "generated_at": now.astimezone(zone).isoformat(),
        "timeline": timeline,
        "next_actions": stage.next_actions,
        "blocking": [{"kind": b.kind, "id": str(b.id), "label": b.label, "state": b.state, "link": b.link}
                     for b in stage.blocking],
        "alarms": [{"id": str(a["id"]), "metric": a["metric"], "point": a["point"], "level": a["level"],
                    "status": a["status"], "latest_value": a["latest_value"], "unit": a["unit"],
                    "latest_at": a["latest_ts"].astimezone(zone).isoformat() if a["latest_ts"] else None}
                   for a in alarms],
        "cameras": camera_out,
        "workers": {"roster": workers["roster"], "on_site_today": workers["on_site_today"],
                    "day": local_today.isoformat()},
        "complaints": [{"id": str(c["id"]), "number": c["number"], "status": c["status"],
                        "deadline_at": c["deadline_at"].astimezone(zone).isoformat(),
                        "sla": sla_state(c["status"], c["deadline_at"], c["paused_at"], now)} for c in complaints],
        "batches": {b["status"]: b["n"] for b in batches},
        "holds": [{"id": str(h["id"]), "enterprise": h["enterprise"], "status": h["status"],
                   "started_at": h["started_at"].astimezone(zone).isoformat()} for h in holds],
        "inspections": await inspections.counts(project_id),
        "personnel_flags": (await assessments.personnel_of(settings, project_id)).flags,
    }


async def site_view(settings: Settings, s3: S3Client | None, actor: Principal, project_id: UUID) -> dict[str, Any]:
    """The site view for a reader of the project (staff of its district, its leads, its supervisors)."""
    await access.check_reader(actor, await projects_service.get_project_row(project_id))
    return await site_data(settings, s3, project_id)


async def party_site_view(settings: Settings, s3: S3Client | None, actor: Principal, project_id: UUID
                          ) -> dict[str, Any]:
    """The mini-program's lead and supervisor views: the same data, for the project's own leads and supervisors."""
    access_policy.require(actor, "party_view", {})
    return await site_view(settings, s3, actor, project_id)
