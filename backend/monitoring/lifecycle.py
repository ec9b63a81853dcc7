"""Sensor lifecycle (传感器管理): alarm values edited with the plan reference, baseline, pause, resume, retire.

Every change is a row in ``monitoring_sensor_events`` (who, when, before, after, plan reference): the
audit trail. The regulated party (the project lead, for the contractor) may tighten but never loosen the
protection: it cannot raise its own alarm values, drop a limit, slow the rate verdict, set the baseline
or retire a sensor — those take the project's supervisor (监理) or district staff. Status changes follow
SENSOR_TRANSITIONS with one ``transition_sensor``. The ingest worker re-reads thresholds and status every
``MONITORING_SENSOR_REFRESH_S``; a baseline takes effect with the next reading (the rule-state row moves,
so every worker rebuilds the state).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from typing import Any
from uuid import UUID

import msgspec

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.errors import BadRequest, Conflict
from backend.monitoring import provisioning, service
from backend.monitoring.classify import NoAlarmValue
from backend.monitoring.rules import Thresholds
from backend.monitoring.schemas import BaselineSet, SensorAction, SensorDetail, SensorEventOut, ThresholdEdit
from backend.monitoring.tables import RuleStateRow, Sensor, SensorEvent
from backend.settings import Settings

# (status, action) → next status: the whole state machine of a sensor.
SENSOR_TRANSITIONS: dict[tuple[str, str], str] = {
    ("active", "pause"): "paused",  # maintenance: readings kept as dead letters, no silence alarm
    ("paused", "resume"): "active",  # silence counts again from now
    ("active", "retire"): "retired",
    ("paused", "retire"): "retired",
}

# Larger is looser: a higher limit, a later warning, a longer span before a rate verdict, a coarser dead band.
LOOSER_WHEN_LARGER = ("cumulative_abs", "cumulative_pct_of_depth", "rate_per_day", "design_value", "design_share",
                      "warning_ratio", "danger_ratio", "consecutive_rate_ratio", "rate_min_span_s", "resolution",
                      "dead_band_steps", "rate_window_s")
# Larger is stricter (clears later); smaller is looser.
LOOSER_WHEN_SMALLER = ("hysteresis", "clear_after")
EDITABLE = (*LOOSER_WHEN_LARGER, *LOOSER_WHEN_SMALLER, "consecutive_count", "rate_method")


_RULE_DEFAULTS = {f.name: f.default for f in fields(Thresholds) if f.init and f.default is not MISSING}


def loosened(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields whose change lowers the protection (pure; table-tested). A field the sensor does not
    store has the rule's default (e.g. the count of 3 windows running)."""
    before = {**_RULE_DEFAULTS, **{k: v for k, v in before.items() if v is not None}}
    after = {**_RULE_DEFAULTS, **{k: v for k, v in after.items() if v is not None},
             **{k: None for k, v in after.items() if v is None}}
    out = []
    for name in EDITABLE:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name == "rate_method":  # a method of measuring, not a limit: the supervising side decides
            out.append(name)
        elif name == "consecutive_count":  # 0 is off; more readings needed is looser
            if old and (not new or new > old):
                out.append(name)
        elif name in LOOSER_WHEN_LARGER:
            if old is not None and (new is None or new > old):
                out.append(name)
        elif new is not None and old is not None and new < old:
            out.append(name)
    return out


async def _audit(sensor_id: UUID, kind: str, actor: Principal, *, plan_ref: str = "", note: str = "",
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    await SensorEvent.raw(
        "INSERT INTO monitoring_sensor_events (id, sensor, kind, actor, plan_ref, note, before, after, at)"
        " VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {}::jsonb, {}::jsonb, {})",
        sensor_id, kind, actor.id if actor.kind == "user" else None, plan_ref, note,
        json.dumps(before or {}, ensure_ascii=False), json.dumps(after or {}, ensure_ascii=False), utcnow())


async def sensor_detail(actor: Principal, sensor_id: UUID) -> SensorDetail:
    """The sensor, its status and its lifecycle audit trail."""
    row = await service._sensor(sensor_id)  # noqa: SLF001
    await access_policy.check(actor, "read_monitoring", await service._project(row["project"]))  # noqa: SLF001
    events = await SensorEvent.select().where(SensorEvent.sensor == sensor_id).order_by(SensorEvent.at).output(
        load_json=True)
    return SensorDetail(sensor=service._sensor_out(row), status=row["status"], events=[  # noqa: SLF001
        SensorEventOut(kind=e["kind"], actor=e["actor"], plan_ref=e["plan_ref"], note=e["note"], before=e["before"],
                       after=e["after"], at=e["at"]) for e in events])


async def edit_thresholds(actor: Principal, sensor_id: UUID, data: ThresholdEdit) -> SensorDetail:
    """Change some alarm values (audited, with the plan reference); the lead may only tighten them."""
    row = await service._sensor(sensor_id)  # noqa: SLF001
    project = await service._project(row["project"])  # noqa: SLF001
    supervising = await access_policy.supervising_monitoring(actor, project)
    if not data.plan_ref.strip():
        raise BadRequest("PLAN_REF_REQUIRED")
    if row["status"] == "retired":
        raise Conflict("SENSOR_STATE", detail={"status": row["status"]})
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if k in EDITABLE and v is not None}
    async with Sensor._meta.db.transaction():
        row = await Sensor.select().where(Sensor.id == sensor_id).output(load_json=True).first()
        before = dict(row["thresholds"])
        after = {**before, **given}
        by_design = after.get("design_value") is not None and after.get("design_share") is not None
        if after.get("cumulative_abs") is None and after.get("rate_per_day") is None and not by_design:
            raise BadRequest("NO_ALARM_VALUE", detail={"metric": row["metric"]})
        looser = loosened(before, after)
        if looser:
            access_policy.require(actor, "loosen_monitoring", {"supervising": supervising, "detail": {"fields": looser}})
        try:
            service.thresholds_check(after)
        except NoAlarmValue:
            raise BadRequest("NO_ALARM_VALUE", detail={"metric": row["metric"]}) from None
        sources = {**row["threshold_sources"], **{k: f"edit:{data.plan_ref.strip()}" for k in given}}
        changed = {k: after[k] for k in given if before.get(k) != after[k]}
        await Sensor.update({Sensor.thresholds: after, Sensor.threshold_sources: sources}).where(Sensor.id == sensor_id)
        await _audit(sensor_id, "thresholds_changed", actor, plan_ref=data.plan_ref.strip(), note=data.note,
                     before={k: before.get(k) for k in changed}, after=changed)
    return await sensor_detail(actor, sensor_id)


async def set_baseline(actor: Principal, sensor_id: UUID, data: BaselineSet) -> SensorDetail:
    """Set (or reset to "the next reading") the value cumulative changes are measured from; supervisor or staff."""
    row = await service._sensor(sensor_id)  # noqa: SLF001
    project = await service._project(row["project"])  # noqa: SLF001
    await access_policy.check(actor, "set_baseline", project)
    if row["status"] == "retired":
        raise Conflict("SENSOR_STATE", detail={"status": row["status"]})
    async with RuleStateRow._meta.db.transaction():
        rows = await RuleStateRow.raw("SELECT state FROM monitoring_rule_states WHERE sensor = {} FOR UPDATE", sensor_id)
        state = rows[0]["state"] if rows else {}
        state = json.loads(state) if isinstance(state, str) else (state or {})
        before = state.get("baseline")
        state["baseline"] = data.value
        state.pop("history", None)  # re-sequencing must not rewind past a baseline change
        await RuleStateRow.raw("UPDATE monitoring_rule_states SET state = {}::jsonb, updated_at = {} WHERE sensor = {}",
                               json.dumps(state), utcnow(), sensor_id)
        await _audit(sensor_id, "baseline_set", actor, plan_ref=data.plan_ref.strip(), note=data.note,
                     before={"baseline": before}, after={"baseline": data.value})
    return await sensor_detail(actor, sensor_id)


async def transition_sensor(actor: Principal, sensor_id: UUID, action: str, data: SensorAction,
                            settings: Settings | None = None) -> SensorDetail:
    """Pause, resume or retire (SENSOR_TRANSITIONS); retiring takes the supervisor or staff and revokes the
    device's broker login in the same transaction (a broker that cannot be told leaves it active)."""
    row = await service._sensor(sensor_id)  # noqa: SLF001
    project = await service._project(row["project"])  # noqa: SLF001
    supervising = await access_policy.supervising_monitoring(actor, project)
    if action == "retire":
        access_policy.require(actor, "loosen_monitoring", {"supervising": supervising, "detail": {"action": action}})
    async with Sensor._meta.db.transaction():
        current = (await Sensor.raw("SELECT status FROM monitoring_sensors WHERE id = {} FOR UPDATE", sensor_id))[0]
        target = SENSOR_TRANSITIONS.get((current["status"], action))
        if target is None:
            raise Conflict("SENSOR_STATE", detail={"status": current["status"], "action": action})
        await Sensor.update({Sensor.status: target, Sensor.status_at: utcnow()}).where(Sensor.id == sensor_id)
        if action == "retire" and settings is not None:
            await provisioning.revoke_device(settings, sensor_id)
        if action == "resume":  # silence counts from now, not from before the maintenance
            await RuleStateRow.update({RuleStateRow.silent: 0}).where(RuleStateRow.sensor == sensor_id)
        await _audit(sensor_id, {"pause": "paused", "resume": "resumed", "retire": "retired"}[action], actor,
                     plan_ref=data.plan_ref, note=data.note, before={"status": current["status"]},
                     after={"status": target})
    return await sensor_detail(actor, sensor_id)
