"""Regulator / project API for monitoring: the registry, sensors, series, alarms, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.deps import ArqDep, Limit, Offset, PrincipalDep, SettingsDep
from backend.monitoring import lifecycle, service
from backend.monitoring.schemas import (
    AlarmDetail,
    AlarmNote,
    AlarmOut,
    BaselineSet,
    CommentIn,
    DeadLetterOut,
    PlanApprove,
    PlanSubmit,
    PointCreate,
    PointOut,
    SensorAction,
    SensorCreate,
    SensorDetail,
    SensorOut,
    Series,
    ThresholdEdit,
    WorkCreate,
    WorkOut,
    WorkUpdate,
)

Buckets = Annotated[int, QueryParameter(ge=1, le=2000, description="chart buckets")]


class MonitoringController(Controller):
    path = "/api/v1/monitoring"
    tags = ["monitoring"]

    @post("/works", summary="Register a dangerous work (classified per 建办质〔2018〕31号)")
    async def create_work(self, principal: PrincipalDep, data: JSONBody[WorkCreate]) -> WorkOut:
        return await service.create_work(principal, data)

    @get("/works", summary="A project's dangerous works")
    async def list_works(self, principal: PrincipalDep, project_id: FromQuery[UUID]) -> list[WorkOut]:
        return await service.list_works(principal, project_id)

    @get("/works/{work_id:uuid}")
    async def get_work(self, principal: PrincipalDep, work_id: FromPath[UUID]) -> WorkOut:
        return await service.get_work(principal, work_id)

    @patch("/works/{work_id:uuid}", summary="Rename, change parameters (reclassified) or the safety director")
    async def update_work(self, principal: PrincipalDep, work_id: FromPath[UUID], data: JSONBody[WorkUpdate]) -> WorkOut:
        return await service.update_work(principal, work_id, data)

    @delete("/works/{work_id:uuid}", summary="Remove a work that never alarmed (staff)")
    async def delete_work(self, principal: PrincipalDep, work_id: FromPath[UUID]) -> None:
        await service.delete_work(principal, work_id)

    @post("/works/{work_id:uuid}/plan", status_code=200, summary="Submit the special plan and its alarm values")
    async def submit_plan(self, principal: PrincipalDep, work_id: FromPath[UUID], data: JSONBody[PlanSubmit]) -> WorkOut:
        return await service.submit_plan(principal, work_id, data)

    @post("/works/{work_id:uuid}/plan/approve", status_code=200, summary="Approve the special plan")
    async def approve_plan(self, principal: PrincipalDep, work_id: FromPath[UUID],
                           data: JSONBody[PlanApprove]) -> WorkOut:
        return await service.approve_plan(principal, work_id, data)

    @post("/works/{work_id:uuid}/points", summary="Add a monitoring point")
    async def create_point(self, principal: PrincipalDep, work_id: FromPath[UUID], data: JSONBody[PointCreate]) -> PointOut:
        return await service.create_point(principal, work_id, data)

    @get("/works/{work_id:uuid}/points")
    async def list_points(self, principal: PrincipalDep, work_id: FromPath[UUID]) -> list[PointOut]:
        return await service.list_points(principal, work_id)

    @post("/points/{point_id:uuid}/sensors", summary="Add a sensor (thresholds from the approved plan)")
    async def create_sensor(self, principal: PrincipalDep, settings: SettingsDep, point_id: FromPath[UUID],
                            data: JSONBody[SensorCreate]) -> SensorOut:
        return await service.create_sensor(principal, point_id, data, settings)

    @post("/sensors/{sensor_id:uuid}/credentials", status_code=200,
          summary="Issue the device a new broker password (live provisioning; shown once)")
    async def rotate_credentials(self, principal: PrincipalDep, settings: SettingsDep,
                                 sensor_id: FromPath[UUID]) -> SensorOut:
        return await service.rotate_device_password(principal, sensor_id, settings)

    @get("/points/{point_id:uuid}/sensors")
    async def list_sensors(self, principal: PrincipalDep, point_id: FromPath[UUID]) -> list[SensorOut]:
        return await service.list_sensors(principal, point_id)

    @get("/sensors/{sensor_id:uuid}")
    async def get_sensor(self, principal: PrincipalDep, sensor_id: FromPath[UUID]) -> SensorOut:
        return await service.get_sensor(principal, sensor_id)

    # Sensor lifecycle (issue 18): readers see the audit trail; leads/staff/supervisors edit (lifecycle.py).
    @get("/sensors/{sensor_id:uuid}/lifecycle", summary="A sensor's status and its audit trail")
    async def sensor_lifecycle(self, principal: PrincipalDep, sensor_id: FromPath[UUID]) -> SensorDetail:
        return await lifecycle.sensor_detail(principal, sensor_id)

    @patch("/sensors/{sensor_id:uuid}/thresholds", summary="Edit alarm values (plan reference; the lead may only tighten)")
    async def edit_thresholds(self, principal: PrincipalDep, sensor_id: FromPath[UUID],
                              data: JSONBody[ThresholdEdit]) -> SensorDetail:
        return await lifecycle.edit_thresholds(principal, sensor_id, data)

    @post("/sensors/{sensor_id:uuid}/baseline", status_code=200, summary="Set the baseline (supervisor or staff)")
    async def set_baseline(self, principal: PrincipalDep, sensor_id: FromPath[UUID],
                           data: JSONBody[BaselineSet]) -> SensorDetail:
        return await lifecycle.set_baseline(principal, sensor_id, data)

    @post("/sensors/{sensor_id:uuid}/pause", status_code=200, summary="Pause for maintenance (no silence alarm)")
    async def pause_sensor(self, principal: PrincipalDep, sensor_id: FromPath[UUID],
                           data: JSONBody[SensorAction]) -> SensorDetail:
        return await lifecycle.transition_sensor(principal, sensor_id, "pause", data)

    @post("/sensors/{sensor_id:uuid}/resume", status_code=200, summary="Resume after maintenance")
    async def resume_sensor(self, principal: PrincipalDep, sensor_id: FromPath[UUID],
                            data: JSONBody[SensorAction]) -> SensorDetail:
        return await lifecycle.transition_sensor(principal, sensor_id, "resume", data)

    @post("/sensors/{sensor_id:uuid}/retire", status_code=200, summary="Retire (supervisor or staff)")
    async def retire_sensor(self, principal: PrincipalDep, settings: SettingsDep, sensor_id: FromPath[UUID],
                            data: JSONBody[SensorAction]) -> SensorDetail:
        return await lifecycle.transition_sensor(principal, sensor_id, "retire", data, settings)

    @get("/sensors/{sensor_id:uuid}/series", summary="Readings downsampled into buckets for a chart")
    async def series(self, principal: PrincipalDep, sensor_id: FromPath[UUID], start: FromQuery[datetime | None] = None,
                     end: FromQuery[datetime | None] = None, buckets: Buckets = 200) -> Series:
        return await service.series(principal, sensor_id, start, end, buckets)

    @get("/alarms", summary="Open (or all) alarms of a project, or of a district")
    async def list_alarms(self, principal: PrincipalDep, project_id: FromQuery[UUID | None] = None,
                          district: FromQuery[int | None] = None, open_only: FromQuery[bool] = True,
                          limit: Limit = 50, offset: Offset = 0) -> list[AlarmOut]:
        return await service.list_alarms(principal, project_id, district, open_only, limit, offset)

    @get("/alarms/{alarm_id:uuid}", summary="An alarm and its timeline")
    async def get_alarm(self, principal: PrincipalDep, alarm_id: FromPath[UUID]) -> AlarmDetail:
        return await service.get_alarm(principal, alarm_id)

    @post("/alarms/{alarm_id:uuid}/ack", status_code=200, summary="Acknowledge (stops the escalation)")
    async def ack(self, principal: PrincipalDep, arq: ArqDep, alarm_id: FromPath[UUID],
                  data: JSONBody[AlarmNote]) -> AlarmDetail:
        return await service.transition(principal, alarm_id, "acknowledge", data.note, arq=arq)

    @post("/alarms/{alarm_id:uuid}/clear", status_code=200, summary="Clear (handled)")
    async def clear(self, principal: PrincipalDep, arq: ArqDep, alarm_id: FromPath[UUID],
                    data: JSONBody[AlarmNote]) -> AlarmDetail:
        return await service.transition(principal, alarm_id, "clear", data.note, arq=arq)

    @post("/alarms/{alarm_id:uuid}/comments", status_code=200, summary="Add a comment to the timeline")
    async def add_comment(self, principal: PrincipalDep, alarm_id: FromPath[UUID], data: JSONBody[CommentIn]) -> AlarmDetail:
        return await service.comment(principal, alarm_id, data)

    @get("/dead-letters", summary="Messages and readings the ingest worker refused, with the reason")
    async def dead_letters(self, principal: PrincipalDep, reason: FromQuery[str | None] = None,
                           limit: Limit = 50, offset: Offset = 0) -> list[DeadLetterOut]:
        return await service.dead_letters(principal, reason, limit, offset)
