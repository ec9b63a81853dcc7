"""Districts (区县), supervision stations (质监站) and the point→district lookup."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.districts.schemas import DistrictOut, LocateOut, Location, StationOut, StationUpdate
from backend.districts.tables import District, Station
from backend.errors import NotFound
from backend.geo.coords import to_gcj02
from backend.geo.districts import DistrictFeature, DistrictIndex

_RELOAD_CHECK_S = 60.0


class DistrictDirectory:
    """A process-local index of district polygons, rebuilt when the table changes (checked each minute)."""

    def __init__(self) -> None:
        self._index: DistrictIndex | None = None
        self._version: tuple[int, Any] | None = None
        self._checked_at = 0.0

    async def index(self) -> DistrictIndex:
        now = time.monotonic()
        if self._index is None or now - self._checked_at > _RELOAD_CHECK_S:
            self._checked_at = now
            version = await _table_version()
            if version != self._version or self._index is None:
                rows = await District.select(District.adcode, District.boundary).output(load_json=True)
                self._index = DistrictIndex((r["adcode"], r["boundary"]) for r in rows)
                self._version = version
        return self._index

    def invalidate(self) -> None:
        self._index = None


_directory = DistrictDirectory()


async def _table_version() -> tuple[int, Any]:
    rows = await District.raw("SELECT count(*) AS n, max(updated_at) AS at FROM districts")
    return rows[0]["n"], rows[0]["at"]


def _station_out(row: dict[str, Any] | None) -> StationOut | None:
    if row is None:
        return None
    return StationOut(
        id=row["id"], district_adcode=row["district"], name=row["name"], address=row["address"], phone=row["phone"]
    )


def _district_out(row: dict[str, Any], station: dict[str, Any] | None, with_boundary: bool) -> DistrictOut:
    return DistrictOut(
        adcode=row["adcode"],
        name=row["name"],
        center=(row["center_lng"], row["center_lat"]),
        approximate=row["approximate"],
        boundary_source=row["boundary_source"],
        station=_station_out(station),
        boundary=row["boundary"] if with_boundary else None,
    )


async def list_districts() -> list[DistrictOut]:
    """All districts with their station, without boundaries."""
    rows = await District.select(*District.all_columns(exclude=[District.boundary])).order_by(District.adcode)
    stations = {s["district"]: s for s in await Station.select()}
    return [_district_out({**r, "boundary": None}, stations.get(r["adcode"]), False) for r in rows]


async def get_district(adcode: int, with_boundary: bool = False) -> DistrictOut:
    row = await District.select().where(District.adcode == adcode).output(load_json=True).first()
    if row is None:
        raise NotFound("DISTRICT_NOT_FOUND")
    station = await Station.select().where(Station.district == adcode).first()
    return _district_out(row, station, with_boundary)


async def require_known(adcode: int) -> None:
    """A district of the directory, else DISTRICT_NOT_FOUND (what is asked of, not who asks)."""
    if not await District.exists().where(District.adcode == adcode):
        raise NotFound("DISTRICT_NOT_FOUND")


async def station_for(adcode: int) -> StationOut | None:
    return _station_out(await Station.select().where(Station.district == adcode).first())


async def locate_adcode(lng: float, lat: float) -> int | None:
    """The district containing a GCJ-02 point, or None outside every district."""
    return (await _directory.index()).locate(lng, lat)


async def locate(point: Location) -> LocateOut:
    """Convert a wx.getLocation point to GCJ-02 and find its district and station."""
    lng, lat = to_gcj02(point.lng, point.lat, point.coord_type)
    adcode = await locate_adcode(lng, lat)
    district = await get_district(adcode) if adcode is not None else None
    return LocateOut(input=point, gcj02=(lng, lat), district=district)


async def update_station(actor: Principal, station_id: int, data: StationUpdate) -> StationOut:
    """A regulator admin of the station's district (or city-wide) edits its contact details."""
    access_policy.require(actor, "regulator_admin", {})
    row = await Station.select().where(Station.id == station_id).first()
    if row is None:
        raise NotFound("STATION_NOT_FOUND")
    access_policy.require(actor, "admin_of_district", row)
    changes = {
        col: value
        for col, value in ((Station.name, data.name), (Station.address, data.address), (Station.phone, data.phone))
        if value is not None
    }
    if changes:
        await Station.update(changes).where(Station.id == station_id)
    return _station_out(await Station.select().where(Station.id == station_id).first())


async def import_districts(features: Iterable[DistrictFeature], source: str, approximate: bool) -> int:
    """Insert or replace district boundaries (the official import is a command, not a constant)."""
    count = 0
    now = utcnow()
    async with District._meta.db.transaction():
        for f in features:
            values = {
                District.name: f.name,
                District.boundary: f.geometry,
                District.center_lng: f.center[0],
                District.center_lat: f.center[1],
                District.boundary_source: source[:200],
                District.approximate: approximate,
                District.updated_at: now,
            }
            if await District.exists().where(District.adcode == f.adcode):
                await District.update(values).where(District.adcode == f.adcode)
            else:
                await District.insert(District(adcode=f.adcode, **{c._meta.name: v for c, v in values.items()}))
            count += 1
    _directory.invalidate()
    return count


async def ensure_station(adcode: int, name: str, address: str = "", phone: str = "") -> int:
    """Create the district's station if it has none; returns its id."""
    row = await Station.select(Station.id).where(Station.district == adcode).first()
    if row is not None:
        return row["id"]
    rows = await Station.insert(Station(district=adcode, name=name, address=address, phone=phone)).returning(Station.id)
    return rows[0]["id"]
