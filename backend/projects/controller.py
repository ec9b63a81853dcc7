"""Regulator API for projects, their parties and project leads."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from backend.accounts.schemas import Page
from backend.deps import Limit, Offset, PrincipalDep
from backend.projects import service
from backend.projects.schemas import (
    LeadIn,
    PartiesReplace,
    ProjectBrief,
    ProjectCreate,
    ProjectOut,
    ProjectStatus,
    ProjectUpdate,
)


class ProjectPage(Page):
    items: list[ProjectBrief]


class ProjectController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @post("/", summary="Register a project (district from location unless given)")
    async def create(self, data: JSONBody[ProjectCreate], principal: PrincipalDep) -> ProjectOut:
        return await service.create_project(principal, data)

    @get("/", summary="Projects visible to the caller")
    async def list_projects(
        self,
        principal: PrincipalDep,
        district_adcode: FromQuery[int | None] = None,
        status: FromQuery[ProjectStatus | None] = None,
        q: FromQuery[str | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ProjectPage:
        total, items = await service.list_projects(
            principal, district=district_adcode, status=status, q=q, limit=limit, offset=offset
        )
        return ProjectPage(total=total, limit=limit, offset=offset, items=items)

    @get("/{project_id:uuid}")
    async def get_project(self, project_id: FromPath[UUID], principal: PrincipalDep) -> ProjectOut:
        return await service.get_project(principal, project_id)

    @patch("/{project_id:uuid}")
    async def update(
        self, project_id: FromPath[UUID], data: JSONBody[ProjectUpdate], principal: PrincipalDep
    ) -> ProjectOut:
        return await service.update_project(principal, project_id, data)

    @put("/{project_id:uuid}/parties", summary="Replace the project's parties")
    async def replace_parties(
        self, project_id: FromPath[UUID], data: JSONBody[PartiesReplace], principal: PrincipalDep
    ) -> ProjectOut:
        return await service.replace_parties(principal, project_id, data.parties)

    @post("/{project_id:uuid}/leads", status_code=200)
    async def add_lead(self, project_id: FromPath[UUID], data: JSONBody[LeadIn], principal: PrincipalDep) -> ProjectOut:
        return await service.add_lead(principal, project_id, data.user_id)

    @delete("/{project_id:uuid}/leads/{user_id:uuid}", status_code=200)
    async def remove_lead(self, project_id: FromPath[UUID], user_id: FromPath[UUID], principal: PrincipalDep) -> ProjectOut:
        return await service.remove_lead(principal, project_id, user_id)
