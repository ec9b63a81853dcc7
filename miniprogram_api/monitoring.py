"""/mp/v1/monitoring: a project lead's (supervisor's, safety director's) open alarms; ack, clear, comment."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from backend.deps import ArqDep, Limit, Offset, PrincipalDep
from backend.monitoring import service
from backend.monitoring.schemas import AlarmDetail, AlarmNote, AlarmOut, CommentIn


class MpMonitoringController(Controller):
    path = "/mp/v1/monitoring"
    tags = ["mp-monitoring"]

    @get("/alarms", summary="My open alarms (projects I lead, supervise or direct safety for)")
    async def my_alarms(self, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0) -> list[AlarmOut]:
        return await service.my_alarms(principal, limit, offset)

    @get("/alarms/{alarm_id:uuid}")
    async def get_alarm(self, principal: PrincipalDep, alarm_id: FromPath[UUID]) -> AlarmDetail:
        return await service.get_alarm(principal, alarm_id)

    @post("/alarms/{alarm_id:uuid}/ack", status_code=200)
    async def ack(self, principal: PrincipalDep, arq: ArqDep, alarm_id: FromPath[UUID],
                  data: JSONBody[AlarmNote]) -> AlarmDetail:
        return await service.transition(principal, alarm_id, "acknowledge", data.note, arq=arq)

    @post("/alarms/{alarm_id:uuid}/clear", status_code=200)
    async def clear(self, principal: PrincipalDep, arq: ArqDep, alarm_id: FromPath[UUID],
                    data: JSONBody[AlarmNote]) -> AlarmDetail:
        return await service.transition(principal, alarm_id, "clear", data.note, arq=arq)

    @post("/alarms/{alarm_id:uuid}/comments", status_code=200)
    async def add_comment(self, principal: PrincipalDep, alarm_id: FromPath[UUID], data: JSONBody[CommentIn]) -> AlarmDetail:
        return await service.comment(principal, alarm_id, data)
