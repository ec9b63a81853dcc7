"""Districts, stations and point→district lookup through the API (WGS-84 and GCJ-02 input)."""

from __future__ import annotations

import pytest

from backend.geo.coords import gcj02_to_wgs84
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio

ADCODES = {330302, 330303, 330304, 330305, 330324, 330326, 330327, 330328, 330329, 330381, 330382, 330383}


async def test_twelve_districts_with_stations(api, admin):
    districts = (await api.get("/api/v1/districts", headers=admin)).json()
    assert {d["adcode"] for d in districts} == ADCODES
    assert all(d["station"] and d["station"]["name"].endswith("监督站") for d in districts)
    assert all(d["boundary"] is None for d in districts)
    one = (await api.get("/api/v1/districts/330302?include_boundary=true", headers=admin)).json()
    assert one["name"] == "鹿城区" and one["boundary"]["type"] in ("Polygon", "MultiPolygon")
    assert_error(await api.get("/api/v1/districts/110101", headers=admin), 404, "DISTRICT_NOT_FOUND")


async def test_locate_converts_wgs84_before_lookup(api, admin):
    # A GCJ-02 point inside 鹿城区, given as GCJ-02 and as its WGS-84 equivalent: same answer.
    district = (await api.get("/api/v1/districts/330302", headers=admin)).json()
    gcj = district["center"]
    wgs = gcj02_to_wgs84(*gcj)
    a = (await api.get(f"/api/v1/geo/locate?lng={gcj[0]}&lat={gcj[1]}&coord_type=gcj02", headers=admin)).json()
    b = (await api.get(f"/api/v1/geo/locate?lng={wgs[0]}&lat={wgs[1]}&coord_type=wgs84", headers=admin)).json()
    assert a["district"]["adcode"] == b["district"]["adcode"] == 330302
    assert abs(b["gcj02"][0] - gcj[0]) < 1e-6 and abs(b["gcj02"][1] - gcj[1]) < 1e-6
    assert a["district"]["station"]["district_adcode"] == 330302


async def test_locate_outside_and_bad_coord_type(api, admin):
    beijing = (await api.get("/api/v1/geo/locate?lng=116.397&lat=39.909&coord_type=gcj02", headers=admin)).json()
    assert beijing["district"] is None
    assert_error(await api.get("/api/v1/geo/locate?lng=120.6&lat=28&coord_type=bd09", headers=admin), 400, "VALIDATION_ERROR")


async def test_mini_program_locate(api):
    pair = await mp_login(api)
    resp = await api.get("/mp/v1/geo/locate?lng=120.674231&lat=28.003352&coord_type=gcj02", headers=bearer(pair))
    assert resp.status_code == 200 and resp.json()["district"]["adcode"] == 330302


async def test_station_edit_is_district_scoped(api):
    lc_admin = await staff_token(api, "lc_admin")
    districts = (await api.get("/api/v1/districts", headers=lc_admin)).json()
    stations = {d["adcode"]: d["station"]["id"] for d in districts}
    resp = await api.patch(f"/api/v1/stations/{stations[330302]}", json={"phone": "0577-88880000"}, headers=lc_admin)
    assert resp.status_code == 200 and resp.json()["phone"] == "0577-88880000"
    assert_error(await api.patch(f"/api/v1/stations/{stations[330303]}", json={"phone": "1"}, headers=lc_admin), 403, "FORBIDDEN_DISTRICT")
    inspector = await staff_token(api, "lc_inspector")
    assert_error(await api.patch(f"/api/v1/stations/{stations[330302]}", json={"phone": "1"}, headers=inspector), 403, "FORBIDDEN_ROLE")
