"""Learning from real sites (issue 21): alert review, the labelled set of real frames, alert rates.

A station (inspectors / admins of the project's district) or a project lead confirms or dismisses each
alert and may draw the boxes the model missed. When the camera's project consented (`label_consent`)
and the frame's raw image was kept, the reviewed frame with its corrected boxes becomes a `CameraLabel`
(kept `VISION_LABEL_RETENTION_DAYS`, gone at once when consent is withdrawn); the station exports a
camera's labelled set in YOLO format for `vision.train --real`. Each camera's alert rate and the share
of its reviewed alerts dismissed are tracked; a camera whose reviewed alerts are mostly dismissed is
flagged for calibration or retraining.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.cameras.schemas import AlertReview, CameraAlertStats, LabelBox, ReviewOut, ReviewVerdict
from backend.cameras.service import (
    EVIDENCE_BUCKET,
    _project,
    alert_out,
    camera_row,
)
from backend.cameras.tables import Camera, CameraAlert, CameraFrame, CameraLabel
from backend.clients.s3 import S3Client
from backend.db import utcnow
from backend.errors import BadRequest, Conflict, NotFound
from backend.settings import Settings

log = structlog.get_logger("zhijian.cameras.review")

# vision.detection.CLASSES, in YOLO id order (backend never imports the vision entry point; a test checks
# that the two lists are equal)
CLASSES = ("upright", "ledger", "beam", "formwork_panel", "person_helmet", "person_no_helmet")
# an alert's review: one transition from "not reviewed" to a verdict; a second review is refused
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {"": frozenset({"confirmed", "dismissed"})}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def check_boxes(boxes: list[LabelBox], width: int, height: int) -> list[dict[str, Any]]:
    """Known classes, boxes inside the frame with positive size; as stored."""
    out = []
    for b in boxes:
        if b.cls not in CLASSES:
            raise BadRequest("LABEL_CLASS_UNKNOWN", detail={"cls": b.cls, "classes": list(CLASSES)})
        x1, y1, x2, y2 = b.box
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise BadRequest("LABEL_BOX_INVALID", detail={"box": b.box, "width": width, "height": height})
        out.append({"cls": b.cls, "box": [round(v, 2) for v in b.box]})
    return out


def corrected_boxes(analysis: dict[str, Any], rule: str, measured: list[dict[str, Any]], data: AlertReview,
                    width: int, height: int) -> list[dict[str, Any]]:
    """The frame's boxes after review: the reviewer's whole list if given; else the model's boxes, with the
    persons of a dismissed no-helmet alert taken as wearing one; plus the boxes the reviewer added."""
    if data.boxes is not None:
        return check_boxes(data.boxes, width, height)
    alerted = {tuple(p["box"]) for p in measured} if rule == "no_helmet" else set()
    boxes = []
    for d in analysis.get("detections", []):
        cls = d["cls"]
        if data.verdict is ReviewVerdict.DISMISSED and cls == "person_no_helmet" and tuple(d["box"]) in alerted:
            cls = "person_helmet"
        boxes.append({"cls": cls, "box": d["box"]})
    return boxes + check_boxes(data.added, width, height)


async def _alert_row(alert_id: UUID) -> dict[str, Any]:
    row = await CameraAlert.select(*CameraAlert.all_columns(), CameraAlert.camera.name.as_alias("camera_name")).where(
        CameraAlert.id == alert_id).output(load_json=True).first()
    if row is None:
        raise NotFound("CAMERA_ALERT_NOT_FOUND")
    return row


async def review_alert(
    settings: Settings, s3: S3Client, actor: Principal, alert_id: UUID, data: AlertReview
) -> ReviewOut:
    """Confirm or dismiss an alert (station or the project's lead); keep the frame as a labelled one when
    the project consented and its raw image is there."""
    row = await _alert_row(alert_id)
    await access_policy.check(actor, "manage_camera", await _project(row["project"]))
    frame = await CameraFrame.select().where(CameraFrame.id == row["frame"]).output(load_json=True).first()
    camera = await camera_row(row["camera"])
    analysis = _json(frame["result"]) or {}
    boxes = corrected_boxes(analysis, row["rule"], _json(row["measured"]) or [], data, frame["width"] or
                            analysis.get("width", 0), frame["height"] or analysis.get("height", 0))
    now = utcnow()
    reason, label_id = "", None
    async with CameraAlert._meta.db.transaction():
        # the row lock makes two reviewers at once see each other: the second gets CAMERA_ALERT_REVIEWED
        locked = await CameraAlert.raw("SELECT review FROM camera_alerts WHERE id = {} FOR UPDATE", alert_id)
        if data.verdict.value not in REVIEW_TRANSITIONS.get(locked[0]["review"], frozenset()):
            raise Conflict("CAMERA_ALERT_REVIEWED", detail={"review": locked[0]["review"]})
        await CameraAlert.update({
            CameraAlert.review: data.verdict.value, CameraAlert.review_note: data.note,
            CameraAlert.reviewed_by: actor.id if actor.kind == "user" else None, CameraAlert.reviewed_at: now,
        }).where(CameraAlert.id == alert_id)
        if not camera["label_consent"]:
            reason = "no_consent"
        elif not frame["frame_key"]:
            reason = "no_raw_frame"
        else:
            label_id = uuid4()
            await CameraLabel.insert(CameraLabel(
                id=label_id, camera=row["camera"], frame=row["frame"], alert=alert_id, image_key=frame["frame_key"],
                width=frame["width"] or analysis.get("width", 0), height=frame["height"] or analysis.get("height", 0),
                boxes=json.dumps(boxes), verdict=data.verdict.value,
                labelled_by=actor.id if actor.kind == "user" else None, created_at=now,
                expires_at=now + timedelta(days=settings.VISION_LABEL_RETENTION_DAYS),
            ))
    row = await _alert_row(alert_id)
    url = await s3.presigned_get(EVIDENCE_BUCKET, row["evidence_key"]) if row["evidence_key"] else None
    return ReviewOut(alert=alert_out(row, url), labelled=label_id is not None, not_labelled_reason=reason,
                     label_id=label_id)


async def alert_stats(settings: Settings, actor: Principal, project_id: UUID, days: int) -> list[CameraAlertStats]:
    """Per camera of the project: alerts over the last `days`, how many reviewed / confirmed / dismissed,
    and whether its reviews ask for calibration or retraining."""
    await access_policy.check(actor, "read_camera", await _project(project_id))
    since = utcnow() - timedelta(days=days)
    rows = await Camera.raw(
        "SELECT c.id, c.name,"
        " count(a.id) AS alerts,"
        " count(a.id) FILTER (WHERE a.review <> '') AS reviewed,"
        " count(a.id) FILTER (WHERE a.review = 'confirmed') AS confirmed,"
        " count(a.id) FILTER (WHERE a.review = 'dismissed') AS dismissed,"
        " (SELECT count(*) FROM camera_labels l WHERE l.camera = c.id AND l.expires_at > now()) AS labelled"
        " FROM cameras c LEFT JOIN camera_alerts a ON a.camera = c.id AND a.created_at >= {}"
        " WHERE c.project = {} GROUP BY c.id, c.name ORDER BY c.name",
        since, project_id,
    )
    out = []
    for r in rows:
        share = r["dismissed"] / r["reviewed"] if r["reviewed"] else None
        flagged = (r["reviewed"] >= settings.VISION_CALIBRATION_MIN_FEEDBACK and share is not None
                   and share > settings.VISION_CALIBRATION_DISMISSED_SHARE)
        out.append(CameraAlertStats(
            camera_id=r["id"], camera_name=r["name"], days=days, alerts=r["alerts"],
            alerts_per_day=round(r["alerts"] / days, 3), reviewed=r["reviewed"], confirmed=r["confirmed"],
            dismissed=r["dismissed"], dismissed_share=None if share is None else round(share, 3), flagged=flagged,
            labelled_frames=r["labelled"],
        ))
    return out


def yolo_line(box: dict[str, Any], width: int, height: int) -> str:
    x1, y1, x2, y2 = box["box"]
    return (f"{CLASSES.index(box['cls'])} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f}"
            f" {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")


async def export_labels(s3: S3Client, actor: Principal, camera_id: UUID) -> bytes:
    """The camera's live labelled frames as a YOLO dataset (zip: images/, labels/, data.yaml, manifest.json);
    the station only."""
    camera = await camera_row(camera_id)
    access_policy.require(actor, "station", await _project(camera["project"]))
    rows = await CameraLabel.select().where(
        (CameraLabel.camera == camera_id) & (CameraLabel.expires_at > utcnow())).order_by(
        CameraLabel.created_at).output(load_json=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for r in rows:
            stem = f"real_{camera_id.hex[:8]}_{r['id'].hex}"
            z.writestr(f"images/real/{stem}.jpg", await s3.get_bytes(EVIDENCE_BUCKET, r["image_key"]))
            lines = [yolo_line(b, r["width"], r["height"]) for b in _json(r["boxes"])]
            z.writestr(f"labels/real/{stem}.txt", "\n".join(lines) + ("\n" if lines else ""))
        z.writestr("data.yaml", "# real frames exported from camera reviews (issue 21)\npath: .\ntrain: images/real\n"
                   "val: images/real\nnames:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES)))
        z.writestr("manifest.json", json.dumps({
            "camera_id": str(camera_id), "project_id": str(camera["project"]), "frames": len(rows),
            "exported_at": utcnow().isoformat(),
            "labels": [{"id": str(r["id"]), "alert": str(r["alert"]) if r["alert"] else None,
                        "verdict": r["verdict"], "expires_at": r["expires_at"].isoformat()} for r in rows],
        }, ensure_ascii=False, indent=1))
    return buf.getvalue()


async def purge_labels(settings: Settings, s3: S3Client) -> dict[str, int]:
    """Retention: labels past expiry (or whose consent was withdrawn) deleted; raw images of pulled frames
    kept only for labelling removed once no live label needs them and retention is over. Idempotent."""
    now = utcnow()
    expired = await CameraLabel.delete().where(CameraLabel.expires_at <= now).returning(
        CameraLabel.image_key, CameraLabel.frame)
    cutoff = now - timedelta(days=settings.VISION_LABEL_RETENTION_DAYS)
    frames = await CameraFrame.raw(
        "SELECT f.id, f.frame_key FROM camera_frames f WHERE f.source = 'pull' AND f.frame_key <> ''"
        " AND NOT EXISTS (SELECT 1 FROM camera_labels l WHERE l.frame = f.id)"
        " AND (f.created_at < {} OR f.id = ANY({}::uuid[]))",
        cutoff, [r["frame"] for r in expired],
    )
    for f in frames:
        await s3.remove(EVIDENCE_BUCKET, f["frame_key"])
        await CameraFrame.update({CameraFrame.frame_key: ""}).where(CameraFrame.id == f["id"])
    log.info("camera_labels_purged", labels=len(expired), raw_frames=len(frames))
    return {"labels": len(expired), "raw_frames": len(frames)}
