"""Notifications (通知): one row per recipient, delivery receipts per channel, quotas, webhooks, escalations."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User


class Notification(Table, tablename="notifications"):
    """What one person is told: the inbox copy and the source of every channel's delivery."""

    id = UUID(primary_key=True)
    recipient = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    template = Varchar(length=64)
    title = Varchar(length=100)
    body = Text()
    data = JSONB()
    page = Varchar(length=200, default="")
    urgency = Varchar(length=16, default="normal")
    dedup_key = Varchar(length=200)
    subject_type = Varchar(length=32, default="")
    subject_id = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)

    unique_dedup = Unique(["recipient", "dedup_key"])


class Delivery(Table, tablename="notification_deliveries"):
    """A delivery receipt per channel (wechat, inbox): pending → sending → sent | retrying | failed | skipped."""

    id = UUID(primary_key=True)
    notification = ForeignKey(references=Notification, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=16)
    status = Varchar(length=16, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    last_errcode = Integer(null=True, default=None)
    reason = Varchar(length=200, default="")
    external_id = Varchar(length=64, default="", index=True)  # WeChat's msgid: sent events find it
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    # WeChat's subscribe_msg_sent_event for this msgid (ErrorStatus, ErrorCode), pushed after the send
    push_status = Varchar(length=32, default="")
    push_errcode = Integer(null=True, default=None)
    push_at = Timestamptz(null=True, default=None)
    # one of the user's subscription acceptances is spent for this receipt (taken for a claimed batch before its
    # calls; a worker taking the receipt over does not take a second one; given back when the call fails)
    quota_taken = Boolean(default=False)

    unique_channel = Unique(["notification", "channel"])


class Webhook(Table, tablename="webhooks"):
    """A department system that receives signed events (HMAC-SHA256 with its secret)."""

    id = UUID(primary_key=True)
    name = Varchar(length=64)
    department = Varchar(length=64)
    url = Varchar(length=500)
    secret = Varchar(length=200)  # the signing secret sealed with the PII key (context "webhook_secret"), never returned
    templates = Array(base_column=Varchar(length=64))  # the event kinds it receives (empty: none)
    districts = Array(base_column=Integer(), default=list)  # its scope: these districts' events (empty: city-wide)
    active = Boolean(default=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    """One event to one webhook, once per dedup key; same statuses as Delivery."""

    id = UUID(primary_key=True)
    webhook = ForeignKey(references=Webhook, on_delete=OnDelete.cascade, index=True)
    dedup_key = Varchar(length=200)
    template = Varchar(length=64)
    payload = JSONB()
    status = Varchar(length=16, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    last_errcode = Integer(null=True, default=None)
    reason = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)

    unique_event = Unique(["webhook", "dedup_key"])


class DeliveryAttempt(Table, tablename="notification_attempts"):
    """Every attempt on every channel, for the audit trail."""

    delivery_id = UUID(index=True)
    channel = Varchar(length=16)
    attempt = Integer()
    outcome = Varchar(length=16)
    errcode = Integer(null=True, default=None)
    detail = Varchar(length=300, default="")
    at = Timestamptz(default=TimestamptzNow())


class Subscription(Table, tablename="wechat_subscriptions"):
    """What the user accepted in wx.requestSubscribeMessage: remaining one-time quota per template."""

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    template_id = Varchar(length=64)
    kind = Varchar(length=16, default="one_time")  # one_time | long_term
    remaining = Integer(default=0)
    status = Varchar(length=16, default="accept")  # accept | reject | ban
    updated_at = Timestamptz(default=TimestamptzNow())

    unique_user_template = Unique(["user", "template_id"])


class WechatBinding(Table, tablename="wechat_bindings"):
    """An openid WeChat refused (40003): no more pushes to it until the user signs in again."""

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, unique=True)
    openid = Varchar(length=64)
    invalid_at = Timestamptz(default=TimestamptzNow())
    errcode = Integer(default=40003)


class Escalation(Table, tablename="escalations"):
    """Notify group A now, B after X, C after Y — unless the subject is acknowledged first."""

    id = UUID(primary_key=True)
    subject_type = Varchar(length=32)
    subject_id = Varchar(length=64)
    template = Varchar(length=64)
    data = JSONB()
    steps = JSONB()  # [{"after_s": 0, "recipients": ["uuid", ...]}, ...]
    urgency = Varchar(length=16, default="high")
    next_step = Integer(default=0)
    next_at = Timestamptz(null=True, default=None, index=True)
    status = Varchar(length=16, default="active", index=True)  # active | stopped | completed
    stop_reason = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
