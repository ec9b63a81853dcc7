"""/mp/v1/privacy: the privacy notices and the user's consents (issue 23)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from backend.deps import PrincipalDep
from backend.privacy import consent
from backend.privacy.schemas import ConsentIn, ConsentOut, NoticesOut


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
