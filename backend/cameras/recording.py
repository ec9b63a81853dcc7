"""What the vision worker records (no principal): due cameras, queued frames, analyses and alerts.

An alert is raised at most once per (camera, rule) per `VISION_ALERT_WINDOW_S`, counted from its first
sighting; later sightings in the window are folded into it (`repeats`, `last_seen_at`). The check and
the insert run under a transaction-scoped advisory lock on (camera, rule), so two workers recording
the same risk at once raise it once, and a restart or a flushed Redis raises nothing again.

A new alert is announced to the project's leads and the district's station (inspectors and admins)
through `notify()` inside the same transaction (issue 21; issue 16 makes that an outbox row), and
carries the figures that produced it: the thresholds in force, the model, the evidence's confidences or
bays, and the model's operating point at those thresholds (vision/models/*.operating-point.json).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
from arq.connections import ArqRedis

from backend.accounts.tables import User
from backend.auth.principal import Role
from backend.cameras.schemas import Analysis
from backend.cameras.service import FRAME_LEASE_S, RISK_TEXT, camera_row
from backend.cameras.tables import Camera, CameraAlert, CameraFrame
from backend.db import utcnow
from backend.notifications import service as notifications
from backend.projects import service as projects_service
from backend.settings import Settings


async def claim_due_cameras(limit: int = 16) -> list[dict[str, Any]]:
    """Cameras to pull a frame from now; each is pushed to its next slot, so two workers never both pull it."""
    rows = await Camera.raw(
        "UPDATE cameras c SET next_due_at = now() + make_interval(secs => c.interval_s) FROM ("
        " SELECT id FROM cameras WHERE enabled AND source IN ('http_snapshot', 'rtsp') AND next_due_at <= now()"
        " ORDER BY next_due_at LIMIT {} FOR UPDATE SKIP LOCKED) due WHERE c.id = due.id RETURNING c.*",
        limit,
    )
    for r in rows:
        if isinstance(r.get("calibration"), str):
            r["calibration"] = json.loads(r["calibration"])
    return rows


async def camera_for(camera_id: UUID) -> dict[str, Any]:
    """The camera row, calibration decoded (for the worker)."""
    return await camera_row(camera_id)


async def claim_queued_frame() -> dict[str, Any] | None:
    """The oldest uploaded frame waiting (or abandoned by a worker that died), now `analysing`."""
    rows = await CameraFrame.raw(
        "UPDATE camera_frames f SET status = 'analysing', claimed_at = now() FROM ("
        " SELECT id FROM camera_frames WHERE status = 'queued'"
        " OR (status = 'analysing' AND claimed_at < now() - make_interval(secs => {}))"
        " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) q WHERE f.id = q.id RETURNING f.*",
        FRAME_LEASE_S,
    )
    return rows[0] if rows else None


async def camera_failed(camera_id: UUID, error: str) -> None:
    await Camera.update({Camera.last_error: error[:500]}).where(Camera.id == camera_id)


async def frame_failed(frame_id: UUID, error: str) -> None:
    await CameraFrame.update({CameraFrame.status: "failed", CameraFrame.error: error[:500],
                              CameraFrame.analysed_at: utcnow()}).where(CameraFrame.id == frame_id)


def failing_rules(analysis: Analysis) -> dict[str, list[dict[str, Any]]]:
    """rule → what failed (persons without a helmet, bays failing the plan); only `fail` alerts."""
    out: dict[str, list[dict[str, Any]]] = {}
    if any(r.rule == "no_helmet" and r.verdict == "fail" for r in analysis.rules):
        out["no_helmet"] = [msgspec.to_builtins(d) for d in analysis.helmet]
    if any(r.rule == "spacing" and r.verdict == "fail" for r in analysis.rules):
        out["spacing"] = [msgspec.to_builtins(b) for b in analysis.bays if b.outcome == "fail"]
    return out


async def record_analysis(
    settings: Settings,
    arq: ArqRedis | None,
    camera: dict[str, Any],
    analysis: Analysis,
    evidence_key: str,
    frame_id: UUID,
    *,
    pulled: bool = False,
    sha256: str = "",
    now: datetime | None = None,
    frame_key: str = "",
    operating_point: dict[str, Any] | None = None,
) -> list[UUID]:
    """Store a frame's analysis; raise an alert per failing rule unless one was raised within the window.

    Returns the alerts raised. A pulled frame gets its row here (`frame_key`: its raw image, kept when it
    may become a labelled frame); an uploaded one has it already. `operating_point`: rule → the model's
    figures at the thresholds in force, stored with the alert.
    """
    now = now or utcnow()
    window_start = now - timedelta(seconds=settings.VISION_ALERT_WINDOW_S)
    result = msgspec.json.encode(analysis).decode()
    raised: list[UUID] = []
    async with CameraFrame._meta.db.transaction():
        if pulled:
            await CameraFrame.insert(CameraFrame(
                id=frame_id, camera=camera["id"], source="pull", status="done", evidence_key=evidence_key,
                frame_key=frame_key, sha256=sha256, width=analysis.width, height=analysis.height, result=result, created_at=now,
                analysed_at=now,
            ))
        else:
            await CameraFrame.update({
                CameraFrame.status: "done", CameraFrame.evidence_key: evidence_key, CameraFrame.result: result,
                CameraFrame.analysed_at: now, CameraFrame.error: "",
            }).where(CameraFrame.id == frame_id)
        await Camera.update({Camera.last_frame_at: now, Camera.last_error: ""}).where(Camera.id == camera["id"])
        for rule, measured in failing_rules(analysis).items():
            await CameraAlert.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"camera-alert:{camera['id']}:{rule}")
            recent = await CameraAlert.select(CameraAlert.id).where(
                (CameraAlert.camera == camera["id"]) & (CameraAlert.rule == rule)
                & (CameraAlert.created_at > window_start)
            ).order_by(CameraAlert.created_at, ascending=False).first()
            if recent is not None:
                await CameraAlert.raw(
                    "UPDATE camera_alerts SET repeats = repeats + 1, last_seen_at = {}, last_frame = {} WHERE id = {}",
                    now, frame_id, recent["id"],
                )
                continue
            alert_id = uuid4()
            figures = {"model": analysis.model, "thresholds": analysis.thresholds,
                       "operating_point": (operating_point or {}).get(rule)}
            await CameraAlert.insert(CameraAlert(
                id=alert_id, camera=camera["id"], project=camera["project"], frame=frame_id, rule=rule,
                verdict="fail", measured=json.dumps(measured), evidence_key=evidence_key, created_at=now,
                last_seen_at=now, last_frame=frame_id, figures=json.dumps(figures),
            ))
            raised.append(alert_id)
            await _announce(settings, arq, alert_id)
    return raised


async def station_user_ids(district: int | None) -> list[UUID]:
    """The district's supervision station: its active inspectors and admins."""
    rows = await User.select(User.id).where(
        User.role.is_in([Role.INSPECTOR.value, Role.REGULATOR_ADMIN.value]) & (User.district == district)
        & User.is_active.eq(True))
    return [r["id"] for r in rows]


async def _announce(settings: Settings, arq: ArqRedis | None, alert_id: UUID) -> None:
    """The project's leads and the district's station are told (inbox always, WeChat push when bound), in
    the caller's transaction; the data carries the evidence image's key and the figures behind the alert."""
    row = await CameraAlert.select(
        CameraAlert.rule, CameraAlert.project, CameraAlert.created_at, CameraAlert.measured, CameraAlert.figures,
        CameraAlert.evidence_key, CameraAlert.camera, CameraAlert.project.name.as_alias("project_name"),
        CameraAlert.project.district.as_alias("district"), CameraAlert.camera.name.as_alias("camera_name"),
    ).where(CameraAlert.id == alert_id).output(load_json=True).first()
    risk = RISK_TEXT[row["rule"]]
    measured = row["measured"] if isinstance(row["measured"], list) else json.loads(row["measured"])
    figures = row["figures"] if isinstance(row["figures"], dict) else json.loads(row["figures"] or "{}")
    thresholds = figures.get("thresholds") or {}
    if row["rule"] == "spacing" and measured:
        worst = max(measured, key=lambda b: b["measured_m"])
        risk = f"{risk}：实测 {worst['measured_m']:.2f}±{3 * worst['sigma_m']:.2f} m，限值 {worst['limit_m']:.2f} m"
    elif row["rule"] == "no_helmet":
        top = max((p["confidence"] for p in measured), default=0.0)
        risk = f"{risk}（{len(measured)} 人，置信度 {top:.2f}，阈值 {thresholds.get('helmet_conf', 0):.2f}）"
    people = [*await projects_service.lead_user_ids(row["project"]), *await station_user_ids(row["district"])]
    await notifications.notify(
        people, "vision_risk",
        {"project": row["project_name"], "risk": f"{row['camera_name']}：{risk}", "time": row["created_at"],
         "alert_id": str(alert_id), "camera_id": str(row["camera"]), "rule": row["rule"],
         "evidence_key": row["evidence_key"], "measured": measured, "figures": figures},
        dedup_key=f"camera-alert:{alert_id}", urgency=notifications.Urgency.HIGH, settings=settings, arq=arq,
        subject=("camera_alert", str(alert_id)),
    )
