"""Site cameras (工地摄像头), the frames they analysed and the risk alerts they raised."""

from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.projects.tables import Project


class Camera(Table, tablename="cameras"):
    """A camera watching one project's formwork: where frames come from, its calibration, its plan value."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=64)
    source = Varchar(length=16)  # http_snapshot | rtsp | upload
    url = Varchar(length=1000, default="")  # without credentials
    url_credentials = Varchar(length=1000, default="")  # "user:password" of the URL, encrypted (never returned)
    interval_s = Integer(default=60)
    enabled = Boolean(default=True)
    # the measurements the calibration is rebuilt from (target corners / tube widths / a scale), or null
    calibration = JSONB(null=True, default=None)
    plan_spacing_m = DoublePrecision(null=True, default=None)  # approved plan (高支模专项方案) upright spacing
    plan_ref = Varchar(length=128, default="")
    support_system = Varchar(length=24, default="")  # cuplock_q235 | cuplock_q345 | "" (no ceiling)
    allowance_m = DoublePrecision(default=0.0)
    # issue 21: the camera's alert thresholds (null: the shipped defaults VISION_HELMET_CONF / _UPRIGHT_CONF)
    helmet_conf = DoublePrecision(null=True, default=None)
    upright_conf = DoublePrecision(null=True, default=None)
    label_consent = Boolean(default=False)  # the project agreed that reviewed frames are kept as training data
    next_due_at = Timestamptz(default=TimestamptzNow(), index=True)
    last_frame_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=500, default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_cameras_project_name = Unique(["project", "name"])


class CameraFrame(Table, tablename="camera_frames"):
    """One analysed (or queued) frame: pulled from the camera or uploaded through the API."""

    id = UUID(primary_key=True)
    camera = ForeignKey(references=Camera, on_delete=OnDelete.restrict, index=True)
    source = Varchar(length=16)  # pull | upload
    status = Varchar(length=16, default="queued", index=True)  # queued | analysing | done | failed
    frame_key = Varchar(length=300, default="")  # the uploaded frame in the evidence bucket
    evidence_key = Varchar(length=300, default="")  # the frame with boxes drawn
    sha256 = Varchar(length=64, default="")
    width = Integer(default=0)
    height = Integer(default=0)
    result = JSONB(null=True, default=None)  # detections, helmet risks, bays and verdicts
    error = Varchar(length=500, default="")
    uploaded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    claimed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    analysed_at = Timestamptz(null=True, default=None)


class CameraAlert(Table, tablename="camera_alerts"):
    """A risk a camera saw (no helmet, a bay wider than the plan), once per camera and rule per window."""

    id = UUID(primary_key=True)
    camera = ForeignKey(references=Camera, on_delete=OnDelete.restrict, index=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    frame = ForeignKey(references=CameraFrame, on_delete=OnDelete.restrict)
    rule = Varchar(length=16)  # no_helmet | spacing
    verdict = Varchar(length=16)  # fail
    measured = JSONB(default="[]")  # the failing bays (measured, sigma, band, limit) or persons (box, confidence)
    evidence_key = Varchar(length=300, default="")
    repeats = Integer(default=0)  # later sightings within the window, folded into this alert
    last_seen_at = Timestamptz(default=TimestamptzNow())
    last_frame = ForeignKey(references=CameraFrame, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    # the figures that produced it: thresholds in force, the model, and its operating point at them
    figures = JSONB(default="{}")
    review = Varchar(length=16, default="")  # "" (not reviewed) | confirmed | dismissed
    review_note = Varchar(length=500, default="")
    reviewed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    reviewed_at = Timestamptz(null=True, default=None)


class CameraLabel(Table, tablename="camera_labels"):
    """A reviewed real frame with its boxes (YOLO classes), kept as training data while consent and
    retention allow (issue 21)."""

    id = UUID(primary_key=True)
    camera = ForeignKey(references=Camera, on_delete=OnDelete.restrict, index=True)
    frame = ForeignKey(references=CameraFrame, on_delete=OnDelete.restrict)
    alert = ForeignKey(references=CameraAlert, null=True, on_delete=OnDelete.set_null, unique=True)
    image_key = Varchar(length=300)  # the raw frame in the evidence bucket
    width = Integer()
    height = Integer()
    boxes = JSONB(default="[]")  # [{"cls": name, "box": [x1, y1, x2, y2]}] in image px
    verdict = Varchar(length=16)  # confirmed | dismissed (the review it came from)
    labelled_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(index=True)
