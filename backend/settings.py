"""The one typed Settings object: every value comes from an environment variable prefixed ZHIJIAN_.

Nothing else in the code base reads ``os.environ``. Defaults work on a developer machine with
PostgreSQL, Redis and Mosquitto on loopback and an S3-compatible server on 127.0.0.1:9000.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo

PREFIX = "ZHIJIAN_"
_DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"


@dataclass(frozen=True, slots=True)
class Settings:
    """Typed runtime configuration (env prefix ``ZHIJIAN_``)."""

    ENV: str = "dev"  # dev | test | production
    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool = True
    LOG_FILE: str = ""  # also write the JSON log lines to this file ("{pid}" is replaced; tests scan it: issue 23)

    API_HOST: str = "127.0.0.1"
    API_PORT: int = 8000
    MAX_BODY_BYTES: int = 1_048_576

    DATABASE_URL: str = "postgresql://postgres@127.0.0.1:5432/zhijian"
    DB_POOL_MIN: int = 1
    DB_POOL_MAX: int = 10

    REDIS_URL: str = "redis://127.0.0.1:6379/0"

    S3_ENDPOINT: str = "http://127.0.0.1:9000"
    S3_ACCESS_KEY: str = "zhijian"
    S3_SECRET_KEY: str = "zhijian-secret-key"
    S3_REGION: str = "us-east-1"
    S3_BUCKET_PREFIX: str = "zhijian-"
    S3_BUCKETS: tuple[str, ...] = ("photos", "files", "evidence")

    MQTT_URL: str = "mqtt://127.0.0.1:1883"
    MQTT_CLIENT_PREFIX: str = "zhijian"
    MQTT_SHARE_GROUP: str = "zhijian-iot"  # workers in one group split the telemetry between them

    WECHAT_API_BASE_URL: str = "http://127.0.0.1:8990"
    WECHAT_APPID: str = "wx0000000000demo"
    WECHAT_SECRET: str = "demo-wechat-secret"
    WECHAT_MINIPROGRAM_STATE: str = "formal"  # developer | trial | formal
    WECHAT_HTTP_PROXY: str = ""  # "http://proxy:3128" where api.weixin.qq.com is reached through a proxy (no *_proxy env)
    WECHAT_TEMPLATE_IDS: str = ""  # "alarm_raised=abc123,complaint_status=def456" overrides the defaults
    # issue 16: message push (消息推送) and content security (内容安全)
    WECHAT_PUSH_TOKEN: str = "demo-push-token"  # the Token of the console's message-push settings
    WECHAT_PUSH_AES_KEY: str = ""  # EncodingAESKey (43 characters): set = safe mode (安全模式), empty = plain
    CONTENT_CHECK_SCENE: int = 3  # msgSecCheck / mediaCheckAsync scene: 1 资料 2 评论 3 论坛 4 社交日志
    CONTENT_CHECK_URL_TTL_S: int = 3600  # how long WeChat may take to download a photo it checks

    NOTIFY_MAX_ATTEMPTS: int = 5
    NOTIFY_RETRY_BASE_S: float = 2.0
    NOTIFY_CONCURRENCY: int = 32
    NOTIFY_RECONCILE_GRACE_S: float = 15.0  # pending this long past due: assume Redis lost the job
    RECONCILE_EVERY_S: int = 60  # how often the worker rebuilds timers and queued work from PostgreSQL

    JWT_SECRET: str = _DEV_JWT_SECRET
    JWT_ISSUER: str = "zhijian"
    ACCESS_TOKEN_TTL_S: int = 900
    # --- access (issue 17) ---
    TOKEN_VERSION_CACHE_S: float = 2.0  # how long a process trusts its copy of a user's token version …
    TOKEN_VERSION_LISTEN_CACHE_S: float = 300.0  # … and while it listens to the users trigger (backend/accounts/sessions.py)
    TRUSTED_PROXIES: tuple[str, ...] = ()  # addresses/networks (CIDR) of reverse proxies whose X-Forwarded-For is believed
    OUTBOUND_ALLOW: tuple[str, ...] = ()  # networks (CIDR) outbound URLs (cameras, webhooks) may reach although private
    JSON_MAX_DEPTH: int = 64  # deeper JSON bodies are refused before decoding
    REFRESH_TOKEN_TTL_S: int = 30 * 24 * 3600
    BIND_CODE_TTL_S: int = 24 * 3600

    COMPLAINT_SLA_S: float = 72 * 3600.0  # a category's sla_hours overrides it
    COMPLAINT_CONFIRM_WINDOW_S: float = 7 * 24 * 3600.0  # resolved → auto-closed; reopen allowed within
    COMPLAINTS_PER_HOUR: int = 10
    COMPLAINTS_PER_DAY: int = 30

    # Materials (issue 6). The QR signing key must be overridden in production (checked by backend.materials.qr).
    MATERIAL_QR_KEY: str = "dev-only-material-qr-key-change-me-0123456789"
    MATERIAL_QR_KEY_ID: int = 1  # 1..255, printed in every token; bump it when the key rotates
    MATERIAL_QR_OLD_KEYS: tuple[str, ...] = ()  # "id:secret,…": retired keys that still verify printed labels
    MATERIAL_QR_URL_PREFIX: str = ""  # e.g. "https://zj.example.gov.cn/m/" so a phone camera opens the mini-program
    MATERIAL_SITE_RADIUS_M: float = 1000.0  # a scan farther than this from the batch's site raises a diversion alert
    CLOCK_FENCE_TOLERANCE_M: float = 50.0  # a clock-in this far outside the geofence still counts (plus GPS accuracy, capped)
    MATERIAL_TRACE_CACHE_S: int = 300  # trace view cache (dropped on every change of the batch)

    PII_KEY: str = "dev-only-pii-key-change-me-0123456789abcdef"  # encrypts ID numbers, phones, bank cards
    PII_KEY_ID: int = 1  # stored beside every encrypted value; bump it with a new PII_KEY to rotate
    PII_OLD_KEYS: tuple[str, ...] = ()  # "id:secret,…": retired keys, readable until the rotation job is done
    PII_LOOKUP_KEY: str = "dev-only-pii-lookup-key-change-me-0123456789"  # equality-index hashes; never rotates

    # Monitoring (issue 7): ingest batching, escalation timing, silence checks, the broker session.
    MONITORING_ESCALATE_AFTER_S: float = 600.0  # unacknowledged this long: the next group is told
    MONITORING_ACK_DEADLINE_S: float = 3600.0  # unacknowledged this long: a credit event against the GC
    # A batch's per-sensor work (lock, state write) is paid once per sensor per batch: larger batches spread it
    # over more readings of each sensor (single-reading messages, 2,000 sensors: 46-50 % of broker-only at 5,000,
    # 59-63 % at 10,000-20,000, 2026-12-04). ReceiveMaximum (10,000 unacknowledged) bounds a batch anyway.
    MONITORING_BATCH_MAX: int = 10_000  # messages per evaluation + write batch …
    MONITORING_BATCH_BYTES: int = 524_288  # … or this much payload (about 10,000 batched readings), whichever first
    MONITORING_BATCH_WAIT_S: float = 0.05  # wait at most this long to fill a batch
    MONITORING_PIPELINE: int = 2  # batches in flight at once per worker (sensor-disjoint; 1: one at a time)
    MONITORING_SILENCE_CHECK_S: float = 30.0  # how often the worker looks for silent sensors
    MONITORING_SENSOR_REFRESH_S: float = 60.0  # sensor thresholds are re-read this often
    # Monitoring (issue 18): device clock sanity.
    GC_GEN0_THRESHOLD: int = 100_000  # iot worker: allocations between garbage-collector passes (0: Python's 700); backend/runtime.py
    MONITORING_CLOCK_SKEW_S: float = 300.0  # a reading stamped further ahead of its arrival is refused (device clock)
    MQTT_DYNSEC_URL: str = ""  # the dynamic-security admin's login (mqtt://admin:…@host:port); empty: no live provisioning
    MQTT_SESSION_EXPIRY_S: int = 7 * 86400  # the worker's persistent session outlives restarts this long
    MQTT_WORKER_CLIENT_ID: str = ""  # empty: {MQTT_CLIENT_PREFIX}-iot-{hostname}; must be stable per worker
    # Vision (issue 8): the runtime model (ONNX + its names sidecar), alert window, worker pacing.
    VISION_MODEL_PATH: str = "vision/models/zhijian-yolov8n.onnx"
    VISION_BACKEND: str = "auto"  # auto | onnxruntime | opencv
    VISION_THREADS: int = 2  # inference threads of the vision worker
    VISION_CONF: float = 0.25  # detector confidence threshold
    VISION_HELMET_CONF: float = 0.65  # a person_no_helmet box at or above this is a safety risk (default of a camera)
    # issue 21: chosen from vision/models/zhijian-yolov8n.operating-point.json (precision ≥ 0.9 per alert kind)
    VISION_UPRIGHT_CONF: float = 0.5  # both uprights of a judged bay at least this confident (default of a camera)
    VISION_LEDGER_GUARD: bool = True  # a bay with a detected ledger ending inside it is not judged
    VISION_LABEL_RETENTION_DAYS: int = 365  # labelled real frames (alert feedback) kept this long
    VISION_CALIBRATION_MIN_FEEDBACK: int = 5  # a camera is flagged once this many alerts were reviewed …
    VISION_CALIBRATION_DISMISSED_SHARE: float = 0.5  # … and more than this share of them dismissed
    VISION_ALERT_WINDOW_S: int = 600  # one alert per camera and rule within this window
    VISION_TICK_S: float = 1.0  # how often the worker looks for due cameras and queued frames
    VISION_FETCH_TIMEOUT_S: float = 10.0  # snapshot GET / RTSP open

    TIMEZONE: str = "Asia/Shanghai"
    DISTRICTS_GEOJSON: str = ""  # empty: the copy shipped in backend/geo/data

    CREDIT_NOTICE_DAYS: float = 7.0  # 公示期: a red/black listing takes effect this long after it is proposed
    CREDIT_OPEN_RATE_PER_MIN: int = 60  # department queries per API key per minute (bulk check counts once)
    CREDIT_BONUS_CAP: int = 10  # manual bonus points per enterprise per rolling 12 months (issue 19)
    CREDIT_PUBLIC_CACHE_S: int = 60  # the public list page and feed are cached this long (issue 19)
    CREDIT_CONSOLE_TICKET_S: int = 60  # one-time ticket that opens the dashboard page in a browser

    # Lifecycle (issue 20): inspection requests (工序报验) are answered within this time, else reminded and escalated.
    INSPECTION_ANSWER_S: float = 24 * 3600.0  # submitted → answer due
    INSPECTION_ESCALATE_AFTER_S: float = 24 * 3600.0  # still unanswered this long after due: the station is told
    # Outbox (issue 16): delivery of external side effects by workers holding short, renewed leases.
    OUTBOX_LEASE_S: float = 15.0  # a dead worker's rows are claimed again this long after its last renewal
    OUTBOX_BATCH: int = 16  # rows claimed at once (a SIGKILL may repeat at most the calls in flight)
    OUTBOX_BATCHES: int = 4  # batches worked on at once per worker
    OUTBOX_POLL_S: float = 1.0  # look for due rows this often besides the commit-time pg_notify wake-up
    OUTBOX_MAX_ATTEMPTS: int = 12  # a task or a row whose handler keeps failing is marked dead after this many
    # Privacy (issue 23, issue 23): retention run daily by backend/privacy/retention.py (PIPL 第19条).
    RETENTION_CASE_YEARS: int = 3  # a closed complaint's reporter identity, contact and exact location kept this long
    RETENTION_SELFIE_DAYS: int = 90  # clock-in selfies (S3 objects and media rows) kept this long after the clock
    RETENTION_ATTENDANCE_YEARS: int = 3  # clock records (with their locations) kept this long, then deleted
    RETENTION_WAGE_YEARS: int = 3  # a worker's bank card and identity kept this long after the last stint or pay
    RETENTION_SCAN_POINT_DAYS: int = 365  # a label scan's point (and its alert's copy) dropped this long after the scan
    RETENTION_REQUEST_YEARS: int = 3  # a privacy request (its words, answer and trail) deleted this long after the answer
    RETENTION_INBOX_DAYS: int = 365  # an inbox message's text (body and template data) cleared this long after sending
    RETENTION_STAFF_YEARS: int = 3  # a disabled staff account's name, sign-in and phone anonymised this long after
    RETENTION_PROJECT_FILE_YEARS: int = 5  # key personnel's names kept this long after the project's 竣工验收备案
    RETENTION_BATCH: int = 500  # rows handled per statement (a long backlog is worked through in batches)
    PRIVACY_ANSWER_S: float = 15 * 86400.0  # a correction request is answered within this (GB/T 35273-2020 §8.7: ≤ 30 days)
    PRIVACY_REMIND_BEFORE_S: float = 3 * 86400.0  # the station's admins are reminded this long before the deadline

    def __post_init__(self) -> None:
        if self.ENV == "production" and self.JWT_SECRET == _DEV_JWT_SECRET:
            raise ValueError("ZHIJIAN_JWT_SECRET must be set in production")
        if self.ENV == "production" and self.MATERIAL_QR_KEY.startswith("dev-only-"):
            raise ValueError("ZHIJIAN_MATERIAL_QR_KEY must be set in production")
        if self.ENV == "production" and self.PII_KEY.startswith("dev-only-"):
            raise ValueError("ZHIJIAN_PII_KEY must be set in production")
        if self.ENV == "production" and self.WECHAT_PUSH_TOKEN == "demo-push-token":  # issue 16
            raise ValueError("ZHIJIAN_WECHAT_PUSH_TOKEN must be set in production")
        if self.ENV == "production" and self.PII_LOOKUP_KEY.startswith("dev-only-"):
            raise ValueError("ZHIJIAN_PII_LOOKUP_KEY must be set in production")
        if self.RECONCILE_EVERY_S < 1 or 60 % self.RECONCILE_EVERY_S:
            raise ValueError("ZHIJIAN_RECONCILE_EVERY_S must divide 60")
        if len(self.JWT_SECRET.encode()) < 32:
            raise ValueError("ZHIJIAN_JWT_SECRET must be at least 32 bytes")

    def zone(self) -> ZoneInfo:
        """The city's time zone (local dates: complaint numbers, reports, message times)."""
        return ZoneInfo(self.TIMEZONE)

    def bucket(self, name: str) -> str:
        """Full bucket name for a logical bucket (photos, files, evidence)."""
        return f"{self.S3_BUCKET_PREFIX}{name}"

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(raw: str, typ: Any) -> Any:
    if typ is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if typ is int:
        return int(raw)
    if typ is float:
        return float(raw)
    if typ == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        key = PREFIX + f.name
        if key in env:
            try:
                values[f.name] = _coerce(env[key], hints[f.name])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from exc
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
