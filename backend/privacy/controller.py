"""/api/v1/privacy: the station's queue of people's correction requests and its answers (issue 23).

Who may call: regulator admins — a station's admins for their district's requests, the city's admins for all
(access policy ``admin_of_district`` in ``rights.answer``; ``rights.staff_list`` filters by
``backend.access.scope.staff_district``).
"""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.deps import PrincipalDep, SettingsDep
from backend.privacy import retention, rights
from backend.privacy.schemas import AnswerIn, PrivacyRequestOut


class PrivacyController(Controller):
    path = "/api/v1/privacy"
    tags = ["privacy"]

    @get("/requests", summary="Correction requests my station answers (city admin: all), oldest due first")
    async def requests(self, principal: PrincipalDep, status: FromQuery[str | None] = None) -> list[PrivacyRequestOut]:
        return await rights.staff_list(principal, status)

    @post("/requests/{request_id:uuid}/answer", status_code=200, summary="Answer (done) or refuse, with the text")
    async def answer(self, principal: PrincipalDep, settings: SettingsDep, request_id: FromPath[UUID],
                     data: JSONBody[AnswerIn]) -> PrivacyRequestOut:
        return await rights.answer(settings, principal, request_id, data)

    @get("/retention-runs", summary="The latest retention runs with their counts (city admins)")
    async def retention_runs(self, principal: PrincipalDep) -> list[dict]:
        rights.require_city_admin(principal)
        return [{**r, "as_of": r["as_of"].isoformat(), "started_at": r["started_at"].isoformat(),
                 "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None}
                for r in await retention.runs(20)]
