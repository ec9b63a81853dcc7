"""Content security (内容安全): WeChat's verdict on what users publish, and the station's review of it."""

from piccolo.columns import JSONB, UUID, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User


class ContentCheck(Table, tablename="content_checks"):
    """One text or photo checked by WeChat (msgSecCheck v2 / mediaCheckAsync v2); see service.TRANSITIONS."""

    id = UUID(primary_key=True)
    kind = Varchar(length=8)  # text | media
    subject_type = Varchar(length=32)  # complaint_text | complaint_photo
    subject_id = Varchar(length=64)  # the complaint's id (text) or the media id (photo)
    complaint = UUID(index=True)  # the case it belongs to: its station reviews it
    district = Integer(null=True, default=None)
    openid = Varchar(length=64, default="")
    status = Varchar(length=16, default="pending", index=True)
    trace_id = Varchar(length=64, null=True, default=None, unique=True)
    suggest = Varchar(length=16, default="")  # pass | review | risky (WeChat's words)
    label = Integer(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    verdict_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
    reviewed_at = Timestamptz(null=True, default=None)

    unique_content_checks_subject = Unique(["subject_type", "subject_id"])


class ContentCheckEvent(Table, tablename="content_check_events"):
    """Every transition of a check: WeChat's verdict and the station's review (the audit trail)."""

    id = Serial(primary_key=True)
    check = ForeignKey(references=ContentCheck, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=32)
    from_status = Varchar(length=16)
    to_status = Varchar(length=16)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.restrict)
    reason = Varchar(length=500, default="")
    data = JSONB(default="{}")
    at = Timestamptz(default=TimestamptzNow())
