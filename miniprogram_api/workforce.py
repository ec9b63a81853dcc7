"""/mp/v1/workforce: a worker links their WeChat account to their real-name record and clocks in/out."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody

from backend.deps import PrincipalDep, RedisDep, SettingsDep
from backend.workforce import attendance, payroll
from backend.workforce.payroll_schemas import MyPayrollLine
from backend.workforce.schemas import ClockIn, ClockOut, LinkIn, LinkOut


class MpWorkforceController(Controller):
    path = "/mp/v1/workforce"
    tags = ["mp-workforce"]

    @post("/link", status_code=200,
          summary="Bind to the registry record by ID number + name + the employer's bind code (rate limited); new tokens")
    async def link(self, principal: PrincipalDep, settings: SettingsDep, redis: RedisDep, data: JSONBody[LinkIn]) -> LinkOut:
        return await attendance.link(settings, redis, principal, data)

    @post("/clocks", summary="Clock in/out (201 new, 200 a retried request_id)")
    async def clock(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[ClockIn]) -> Response[ClockOut]:
        record, created = await attendance.clock(settings, principal, data)
        return Response(record, status_code=201 if created else 200)

    @get("/clocks", summary="My clock-ins/outs, newest first")
    async def mine(self, principal: PrincipalDep, limit: FromQuery[int] = 100) -> list[ClockOut]:
        return await attendance.mine(principal, limit)

    @get("/payroll-lines", summary="My payroll lines (regular and back pay), newest month first")
    async def my_payroll(self, principal: PrincipalDep, limit: FromQuery[int] = 60) -> list[MyPayrollLine]:
        return await payroll.my_lines(principal, limit)
