"""/mp/v1/privacy: the privacy notices and the user's consents; my data, my requests, closing my account (issue 23)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.deps import PrincipalDep, SettingsDep
from backend.privacy import consent, rights
from backend.privacy.schemas import (
    ClosureIn,
    ClosureOut,
    ConsentIn,
    ConsentOut,
    CorrectionIn,
    NoticesOut,
    PrivacyRequestOut,
)


class MpPrivacyController(Controller):
    path = "/mp/v1/privacy"
    tags = ["mp-privacy"]

    @get("/notices", summary="The current privacy notices (general; precise location and face: separate) and my acceptances")
    async def notices(self, principal: PrincipalDep) -> NoticesOut:
        return await consent.notices(principal)

    @post("/consents", status_code=201, summary="Accept the current version of a notice")
    async def accept(self, principal: PrincipalDep, data: JSONBody[ConsentIn]) -> ConsentOut:
        return await consent.accept(principal, data)

    @post("/consents/{item:str}/withdraw", status_code=204, summary="Withdraw my consent to a notice")
    async def withdraw(self, principal: PrincipalDep, item: FromPath[str]) -> None:
        await consent.withdraw(principal, item)

    @get("/my-data", summary="Everything Zhijian holds about me, as JSON (download=true: as a file); the access is logged")
    async def my_data(self, principal: PrincipalDep, settings: SettingsDep, download: FromQuery[bool] = False
                      ) -> Response[dict[str, Any]]:
        data = await rights.my_data(settings, principal)
        headers = {"Cache-Control": "no-store"}
        if download:
            headers["Content-Disposition"] = 'attachment; filename="zhijian-my-data.json"'
        return Response(content=data, headers=headers)

    @post("/requests", status_code=201, summary="Ask for a correction (answered by the responsible station in time)")
    async def correction(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[CorrectionIn]
                         ) -> PrivacyRequestOut:
        return await rights.request_correction(settings, principal, data)

    @get("/requests", summary="My requests (access, correction, closing) with their answers")
    async def my_requests(self, principal: PrincipalDep) -> list[PrivacyRequestOut]:
        return await rights.mine(principal)

    @post("/close-account", status_code=200, summary="Close my account: what the law keeps is kept and said, the rest deleted")
    async def close(self, principal: PrincipalDep, settings: SettingsDep, data: JSONBody[ClosureIn]) -> ClosureOut:
        return await rights.close_account(settings, principal)  # data.confirm is True: the schema refuses anything else
