"""/mp/v1 places: point→district lookup, projects near me, my projects."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from backend.auth.principal import Role
from backend.deps import PrincipalDep
from backend.districts import service as districts_service
from backend.districts.schemas import LocateOut, Location
from backend.geo.coords import CoordType
from backend.projects import service as projects_service
from backend.projects.schemas import NearbyProject, ProjectBrief

Lng = Annotated[float, QueryParameter(ge=-180, le=180)]
Lat = Annotated[float, QueryParameter(ge=-90, le=90)]


class MpPlacesController(Controller):
    path = "/mp/v1"
    tags = ["mp-places"]

    @get("/geo/locate", summary="District and station for my location")
    async def locate(self, principal: PrincipalDep, lng: Lng, lat: Lat, coord_type: FromQuery[CoordType] = CoordType.WGS84) -> LocateOut:
        principal.require_role(*Role)
        return await districts_service.locate(Location(lng=lng, lat=lat, coord_type=coord_type))

    @get("/projects/nearby", summary="Sites near me (to attach a report to)")
    async def nearby(
        self,
        principal: PrincipalDep,
        lng: Lng,
        lat: Lat,
        coord_type: FromQuery[CoordType] = CoordType.WGS84,
        radius_m: Annotated[float, QueryParameter(gt=0, le=5000)] = 1000,
    ) -> list[NearbyProject]:
        principal.require_role(*Role)
        return await projects_service.nearby(Location(lng=lng, lat=lat, coord_type=coord_type), radius_m)

    @get("/projects/mine", summary="Projects I lead or supervise")
    async def mine(self, principal: PrincipalDep) -> list[ProjectBrief]:
        principal.require_role(Role.PROJECT_LEAD, Role.SUPERVISOR)
        _, items = await projects_service.list_projects(
            principal, district=None, status=None, q=None, limit=200, offset=0
        )
        return items
