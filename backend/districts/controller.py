"""Regulator API for districts, stations and the point→district lookup."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.deps import PrincipalDep
from backend.districts import service
from backend.districts.schemas import DistrictOut, LocateOut, Location, StationOut, StationUpdate
from backend.geo.coords import CoordType


class DistrictController(Controller):
    path = "/api/v1"
    tags = ["districts"]

    @get("/districts", summary="The city's districts with their supervision stations")
    async def list_districts(self) -> list[DistrictOut]:
        return await service.list_districts()

    @get("/districts/{adcode:int}")
    async def get_district(
        self, adcode: FromPath[int], include_boundary: FromQuery[bool] = False
    ) -> DistrictOut:
        return await service.get_district(adcode, include_boundary)

    @get("/geo/locate", summary="Which district (and station) a point falls in")
    async def locate(
        self,
        lng: Annotated[float, QueryParameter(ge=-180, le=180)],
        lat: Annotated[float, QueryParameter(ge=-90, le=90)],
        coord_type: FromQuery[CoordType] = CoordType.WGS84,
    ) -> LocateOut:
        return await service.locate(Location(lng=lng, lat=lat, coord_type=coord_type))

    @patch("/stations/{station_id:int}", summary="Edit a station's contact details")
    async def update_station(
        self, station_id: FromPath[int], data: JSONBody[StationUpdate], principal: PrincipalDep
    ) -> StationOut:
        return await service.update_station(principal, station_id, data)
