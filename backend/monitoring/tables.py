"""Dangerous-works monitoring (危大工程监测): works, plans, points, sensors, readings, alarms, dead letters."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from backend.accounts.tables import User
from backend.districts.tables import District
from backend.projects.tables import Project


class DangerousWork(Table, tablename="dangerous_works"):
    """A 危大工程 of a project: kind, parameters, its classification and its special plan (专项方案)."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=128)
    kind = Varchar(length=32)  # classify.Kind
    parameters = JSONB(default={})
    classification = Varchar(length=16)  # none | major (危大) | beyond_scale (超过一定规模)
    classification_reasons = JSONB(default=[])
    safety_director = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    plan_status = Varchar(length=16, default="none")  # none | submitted | approved
    plan_no = Varchar(length=64, default="")
    plan_alarm_values = JSONB(default={})  # metric → the designer's alarm values (GB 50497 §8.0.1)
    plan_expert_review = Varchar(length=200, default="")  # 专家论证 record (beyond_scale only)
    plan_submitted_at = Timestamptz(null=True, default=None)
    plan_approved_at = Timestamptz(null=True, default=None)
    plan_approved_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class MonitoringPoint(Table, tablename="monitoring_points"):
    """A monitoring point (监测点) of a dangerous work, e.g. "ZQS-03" on the pit's north wall."""

    id = UUID(primary_key=True)
    work = ForeignKey(references=DangerousWork, on_delete=OnDelete.cascade, index=True)
    code = Varchar(length=32)
    name = Varchar(length=128, default="")
    created_at = Timestamptz(default=TimestamptzNow())

    unique_monitoring_points_work_code = Unique(["work", "code"])


class Sensor(Table, tablename="monitoring_sensors"):
    """A sensor at a point measuring one metric; its thresholds come from the plan, gaps from defaults."""

    id = UUID(primary_key=True)
    point = ForeignKey(references=MonitoringPoint, on_delete=OnDelete.cascade, index=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    metric = Varchar(length=40)
    unit = Varchar(length=16, default="mm")
    thresholds = JSONB(default={})  # rules.Thresholds fields
    threshold_sources = JSONB(default={})  # field → "plan" | "default"
    interval_s = Integer(default=3600)  # the expected reporting interval
    silent_after_missed = SmallInt(default=3)  # this many intervals without a reading: "sensor silent"
    status = Varchar(length=16, default="active")  # active | paused | retired (service.SENSOR_TRANSITIONS)
    status_at = Timestamptz(null=True, default=None)  # when the status last changed (silence counts from a resume)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_monitoring_sensors_point_metric = Unique(["point", "metric"])


class Reading(Table, tablename="monitoring_readings"):
    """One accepted reading; (sensor, ts) is unique, so a redelivered reading is never stored twice."""

    id = BigSerial(primary_key=True)
    sensor = UUID()  # no FK: written in bulk by the ingest worker, sensors are never deleted while measured
    ts = Timestamptz()
    value = DoublePrecision()
    received_at = Timestamptz(default=TimestamptzNow())

    unique_monitoring_readings_sensor_ts = Unique(["sensor", "ts"])


class RuleStateRow(Table, tablename="monitoring_rule_states"):
    """The durable rules.RuleState of a sensor: a restarted worker resumes baselines, windows and counters."""

    id = BigSerial(primary_key=True)
    sensor = UUID(unique=True)
    state = JSONB(default={})
    silent = SmallInt(default=0)  # 1 while a "sensor silent" alarm is raised; 2 cleared by hand, until a reading
    clock_fault = SmallInt(default=0)  # 1 while a "device clock" fault is open (a future-stamped reading refused)
    last_ts = Timestamptz(null=True, default=None)
    # who wrote the state: the iot worker sets a new random rev with each state it writes; a trigger gives any
    # other writer's state a new one (migration 2026-12-06): the worker's cached state is used only while they match
    rev = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class Alarm(Table, tablename="monitoring_alarms"):
    """An alarm: one active per (point, metric, rule) (partial unique index); lifecycle in service.TRANSITIONS."""

    id = UUID(primary_key=True)
    sensor = ForeignKey(references=Sensor, on_delete=OnDelete.restrict, index=True)
    point = ForeignKey(references=MonitoringPoint, on_delete=OnDelete.restrict, index=True)
    project = ForeignKey(references=Project, on_delete=OnDelete.restrict, index=True)
    district = ForeignKey(references=District, on_delete=OnDelete.restrict, index=True)
    metric = Varchar(length=40)
    rule = Varchar(length=16)  # threshold | silent
    level = SmallInt()  # rules.Level
    max_level = SmallInt()
    status = Varchar(length=24, index=True)  # active_unacknowledged | acknowledged | cleared
    occurrence = Integer(default=1)  # the nth alarm of this (point, metric, rule)
    raised_count = Integer(default=1)  # level rises while this alarm was open
    value = DoublePrecision(null=True, default=None)
    cumulative = DoublePrecision(null=True, default=None)
    rate_per_day = DoublePrecision(null=True, default=None)
    reasons = JSONB(default=[])
    reading_ts = Timestamptz(null=True, default=None)
    first_at = Timestamptz(default=TimestamptzNow())
    last_at = Timestamptz(default=TimestamptzNow())
    acked_at = Timestamptz(null=True, default=None)
    acked_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    cleared_at = Timestamptz(null=True, default=None)
    cleared_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class AlarmEvent(Table, tablename="monitoring_alarm_events"):
    """The alarm's timeline: raised, level_changed, acknowledged, cleared, comment (and who was told)."""

    id = UUID(primary_key=True)
    alarm = ForeignKey(references=Alarm, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=24)
    from_level = SmallInt(null=True, default=None)
    to_level = SmallInt(null=True, default=None)
    from_status = Varchar(length=24, default="")
    to_status = Varchar(length=24, default="")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    note = Text(default="")
    notify = Varchar(length=16, default="")  # escalate | inform | "" ; sent after the commit
    notified_at = Timestamptz(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow(), index=True)


class DeadLetter(Table, tablename="monitoring_dead_letters"):
    """A message or reading the worker refused, with the reason (malformed, unknown_sensor, out_of_order…)."""

    id = BigSerial(primary_key=True)
    topic = Varchar(length=200)
    sensor = UUID(null=True, default=None)
    reason = Varchar(length=32, index=True)
    detail = Text(default="")
    payload = Text(default="")
    received_at = Timestamptz(default=TimestamptzNow(), index=True)


class SensorEvent(Table, tablename="monitoring_sensor_events"):
    """A sensor's lifecycle audit trail: thresholds changed (with the plan reference), baseline set, paused,
    resumed, retired — who, when, before and after (service.SENSOR_TRANSITIONS)."""

    id = UUID(primary_key=True)
    sensor = ForeignKey(references=Sensor, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=24)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    plan_ref = Varchar(length=64, default="")
    note = Text(default="")
    before = JSONB(default={})
    after = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow())
