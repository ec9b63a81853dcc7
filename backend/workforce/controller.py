"""Regulator API for spot checks (抽查) and quality holds (质量暂停)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.deps import ArqDep, PrincipalDep, SettingsDep
from backend.workforce import registry, spotchecks
from backend.workforce.schemas import (
    HoldOut,
    LiftIn,
    SpotCheckIn,
    SpotCheckOut,
    WorkerCreate,
    WorkerOut,
    WorkerPii,
)


class SpotCheckController(Controller):
    path = "/api/v1"
    tags = ["spot-checks"]

    @post("/spot-checks", summary="Record a spot check; a second failure running starts a quality hold")
    async def record(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, data: JSONBody[SpotCheckIn]) -> SpotCheckOut:
        return await spotchecks.record(settings, arq, principal, data)

    @get("/spot-checks", summary="A project's spot checks")
    async def list_checks(self, principal: PrincipalDep, project_id: FromQuery[UUID]) -> list[SpotCheckOut]:
        return await spotchecks.checks(principal, project_id)

    @get("/quality-holds", summary="A project's quality holds (staff, its leads and parties)")
    async def list_holds(
        self, principal: PrincipalDep, project_id: FromQuery[UUID], status: FromQuery[str | None] = None
    ) -> list[HoldOut]:
        return await spotchecks.holds(principal, project_id, status)

    @post("/quality-holds/{hold_id:uuid}/lift", status_code=200, summary="Lift a hold, with the reason")
    async def lift(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, hold_id: FromPath[UUID], data: JSONBody[LiftIn]) -> HoldOut:
        return await spotchecks.lift(settings, arq, principal, hold_id, data.reason)


class WorkerController(Controller):
    path = "/api/v1/workers"
    tags = ["workers"]

    @post("/", summary="Register a worker under their real name (ID number checked, PII encrypted)")
    async def register(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[WorkerCreate]) -> WorkerOut:
        return await registry.register(settings, principal, data)

    @get("/by-id-number", summary="Find a worker by ID number (keyed hash; staff only)")
    async def by_id_number(self, principal: PrincipalDep, settings: SettingsDep, id_number: FromQuery[str]) -> WorkerOut:
        return await registry.find_by_id_number(settings, principal, id_number)

    @get("/{worker_id:uuid}")
    async def get_worker(self, principal: PrincipalDep, settings: SettingsDep, worker_id: FromPath[UUID]) -> WorkerOut:
        return await registry.get(settings, principal, worker_id)

    @get("/{worker_id:uuid}/pii", summary="Unmasked ID number, phone and bank card (payroll, audits; logged)")
    async def pii(self, principal: PrincipalDep, settings: SettingsDep, worker_id: FromPath[UUID]) -> WorkerPii:
        return await registry.pii(settings, principal, worker_id)
