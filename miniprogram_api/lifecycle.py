"""/mp/v1/projects/{id}/site: the live site view for a project's leads and supervisors (same JSON as the page)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath

from backend.deps import PrincipalDep, S3Dep, SettingsDep
from backend.lifecycle import siteview


class MpSiteController(Controller):
    path = "/mp/v1/projects"
    tags = ["mp-lifecycle"]

    @get("/{project_id:uuid}/site", summary="My project's live state (project leads and supervisors)")
    async def site(self, project_id: FromPath[UUID], principal: PrincipalDep, settings: SettingsDep, s3: S3Dep
                   ) -> dict[str, Any]:
        return await siteview.party_site_view(settings, s3, principal, project_id)
