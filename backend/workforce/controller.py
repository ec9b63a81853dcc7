"""Regulator API for spot checks (抽查) and quality holds (质量暂停)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from backend.deps import ArqDep, PrincipalDep, SettingsDep
from backend.workforce import attendance as attendance_service
from backend.workforce import clock_review, holds, registry, roster, spotchecks, teams
from backend.workforce.schemas import (
    BindCodeOut,
    ClockOut,
    ClockReviewIn,
    HoldEventOut,
    HoldOut,
    LiftIn,
    LiftRequestIn,
    SpotCheckIn,
    SpotCheckOut,
    StintIn,
    StintOut,
    StintTeamIn,
    TeamIn,
    TeamOut,
    TeamUpdate,
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
        return await holds.holds(principal, project_id, status)

    @post("/quality-holds/{hold_id:uuid}/lift", status_code=200, summary="Lift a hold, with the reason")
    async def lift(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, hold_id: FromPath[UUID], data: JSONBody[LiftIn]) -> HoldOut:
        return await holds.lift(settings, arq, principal, hold_id, data.reason)

    @post("/quality-holds/{hold_id:uuid}/request-lift", status_code=200,
          summary="The held subcontractor or the GC reports the defects put right and asks for re-inspection")
    async def request_lift(self, principal: PrincipalDep, settings: SettingsDep, arq: ArqDep, hold_id: FromPath[UUID],
                           data: JSONBody[LiftRequestIn]) -> HoldOut:
        return await holds.request_lift(settings, arq, principal, hold_id, data.note)

    @get("/quality-holds/{hold_id:uuid}/events", summary="A hold's audit trail (district staff, the GC, the held subcontractor)")
    async def hold_events(self, principal: PrincipalDep, hold_id: FromPath[UUID]) -> list[HoldEventOut]:
        return await holds.events(principal, hold_id)


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

    @post("/{worker_id:uuid}/bind-code", status_code=201,
          summary="A one-time code (72 h) the worker uses to link their WeChat account (employer, GC, regulator admin)")
    async def bind_code(self, principal: PrincipalDep, settings: SettingsDep, worker_id: FromPath[UUID]) -> BindCodeOut:
        return await attendance_service.bind_code(settings, principal, worker_id)

    @get("/{worker_id:uuid}/pii", summary="Unmasked ID number, phone and bank card (payroll, audits; logged)")
    async def pii(self, principal: PrincipalDep, settings: SettingsDep, worker_id: FromPath[UUID]) -> WorkerPii:
        return await registry.pii(settings, principal, worker_id)


class RosterController(Controller):
    path = "/api/v1"
    tags = ["roster"]

    @post("/roster", summary="Enter a worker onto a project's roster (进场)")
    async def enter(self, principal: PrincipalDep, data: JSONBody[StintIn]) -> StintOut:
        return await roster.enter(principal, data)

    @post("/roster/{stint_id:uuid}/exit", status_code=200, summary="Exit a worker from the project (退场)")
    async def exit_(self, principal: PrincipalDep, stint_id: FromPath[UUID]) -> StintOut:
        return await roster.exit_(principal, stint_id)

    @put("/roster/{stint_id:uuid}/team", status_code=200, summary="Put a worker's open stint into a team (or none)")
    async def set_team(self, principal: PrincipalDep, stint_id: FromPath[UUID], data: JSONBody[StintTeamIn]) -> StintOut:
        return await teams.assign(principal, stint_id, data.team_id)

    @get("/roster", summary="Entry/exit history of a project or of a worker")
    async def history(self, principal: PrincipalDep, project_id: FromQuery[UUID | None] = None,
                      worker_id: FromQuery[UUID | None] = None) -> list[StintOut]:
        return await roster.history(principal, project_id, worker_id)

    @get("/attendance/flagged", summary="A project's flagged clocks by review status (employer, GC, district staff)")
    async def flagged_clocks(self, principal: PrincipalDep, project_id: FromQuery[UUID],
                             status: FromQuery[str] = "pending") -> list[ClockOut]:
        return await clock_review.flagged(principal, project_id, status)

    @post("/attendance/{clock_id:uuid}/review", status_code=200,
          summary="Accept (paid) or reject a flagged clock, with a reason (the employer's or the GC's lead)")
    async def review_clock(self, principal: PrincipalDep, clock_id: FromPath[UUID],
                           data: JSONBody[ClockReviewIn]) -> ClockOut:
        return await clock_review.review(principal, clock_id, data)

    @get("/attendance", summary="A project's clock-ins/outs on one local day (YYYY-MM-DD)")
    async def attendance(self, principal: PrincipalDep, settings: SettingsDep, project_id: FromQuery[UUID],
                         day: FromQuery[str]) -> list[ClockOut]:
        return await attendance_service.project_day(settings, principal, project_id, day)


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["teams"]

    @post("/", summary="Create a team (班组) of a subcontractor on a project")
    async def create(self, principal: PrincipalDep, data: JSONBody[TeamIn]) -> TeamOut:
        return await teams.create(principal, data)

    @get("/", summary="A project's teams (a subcontractor's lead sees its own)")
    async def list_teams(self, principal: PrincipalDep, project_id: FromQuery[UUID],
                         include_disbanded: FromQuery[bool] = False) -> list[TeamOut]:
        return await teams.list_for(principal, project_id, include_disbanded)

    @get("/{team_id:uuid}")
    async def get_team(self, principal: PrincipalDep, team_id: FromPath[UUID]) -> TeamOut:
        return await teams.get(principal, team_id)

    @patch("/{team_id:uuid}", summary="Rename, change the leader, or disband a team")
    async def update(self, principal: PrincipalDep, team_id: FromPath[UUID], data: JSONBody[TeamUpdate]) -> TeamOut:
        return await teams.update(principal, team_id, data)
