"""WGS-84 ⇄ GCJ-02 (pure, table-driven)."""

from __future__ import annotations

import math

import pytest

from backend.errors import BadRequest
from backend.geo.coords import (
    CoordType,
    gcj02_to_wgs84,
    out_of_china,
    parse_coord_type,
    to_gcj02,
    wgs84_to_gcj02,
)
from backend.geo.distance import haversine_m

# (wgs_lat, wgs_lng, gcj_lat, gcj_lng): the test vectors of the eviltransform project
# (github.com/googollee/eviltransform, its test suite), Shanghai, Shenzhen, Beijing.
VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), VECTORS)
def test_published_vectors(wlat, wlng, glat, glng):
    lng, lat = wgs84_to_gcj02(wlng, wlat)
    assert abs(lng - glng) < 1e-9 and abs(lat - glat) < 1e-9
    back_lng, back_lat = gcj02_to_wgs84(glng, glat)
    assert abs(back_lng - wlng) < 1e-7 and abs(back_lat - wlat) < 1e-7


def test_round_trip_over_wenzhou():
    worst = 0.0
    for i in range(17):
        for j in range(17):
            lng, lat = 119.6 + i * 0.1, 27.0 + j * 0.1
            back = gcj02_to_wgs84(*wgs84_to_gcj02(lng, lat))
            worst = max(worst, abs(back[0] - lng), abs(back[1] - lat))
    assert worst < 1e-7


def test_the_shift_in_wenzhou_is_about_half_a_kilometre():
    lng, lat = 120.6994, 27.9938  # Wenzhou city
    g = wgs84_to_gcj02(lng, lat)
    assert 400 < haversine_m(lng, lat, *g) < 700


@pytest.mark.parametrize(("lng", "lat"), [(-0.1276, 51.5072), (139.6917, 35.6895), (151.2093, -33.8688)])
def test_outside_china_is_unchanged(lng, lat):
    assert out_of_china(lng, lat)
    assert wgs84_to_gcj02(lng, lat) == (lng, lat) == gcj02_to_wgs84(lng, lat)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, CoordType.WGS84), ("gcj02", CoordType.GCJ02), ("WGS84", CoordType.WGS84), (" gcj02 ", CoordType.GCJ02)]
)
def test_parse_coord_type(value, expected):
    assert parse_coord_type(value) is expected


@pytest.mark.parametrize("value", ["bd09", "", "gcj-02"])
def test_bad_coord_type(value):
    with pytest.raises(BadRequest) as err:
        parse_coord_type(value)
    assert err.value.code == "COORD_TYPE_INVALID"


@pytest.mark.parametrize(
    ("lng", "lat"), [(180.0001, 28), (-180.0001, 28), (120, 90.0001), (120, -90.0001), (math.nan, 28), (120, math.inf)]
)
def test_out_of_range(lng, lat):
    with pytest.raises(BadRequest) as err:
        to_gcj02(lng, lat, "wgs84")
    assert err.value.code == "COORD_OUT_OF_RANGE"


def test_boundaries_of_the_range_are_accepted():
    assert to_gcj02(180, 90, "gcj02") == (180, 90)
    assert to_gcj02(-180, -90, "wgs84") == (-180, -90)
