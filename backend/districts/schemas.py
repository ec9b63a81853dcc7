"""Request and response types of districts, stations and the point→district lookup."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from backend.geo.coords import CoordType
from backend.schema import Schema


class StationOut(Schema):
    id: int
    district_adcode: int
    name: str
    address: str
    phone: str


class DistrictOut(Schema):
    adcode: int
    name: str
    center: tuple[float, float]
    approximate: bool
    boundary_source: str
    station: StationOut | None
    boundary: dict[str, Any] | None = None
    coord_type: str = "gcj02"  # the system of center and boundary (issue 19: every location says it)


class StationUpdate(Schema):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    address: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class Location(Schema):
    """A point as wx.getLocation gives it: longitude, latitude and the coordinate system."""

    lng: float
    lat: float
    coord_type: CoordType = CoordType.WGS84


class LocateOut(Schema):
    input: Location
    gcj02: tuple[float, float]
    district: DistrictOut | None
