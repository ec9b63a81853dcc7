"""WGS-84 ⇄ GCJ-02 (pure, table-driven)."""

from __future__ import annotations

import math

import pytest

from backend.errors import BadRequest
from backend.geo.coords import (
    CoordType,
    check_range,
    gcj02_to_wgs84,
    out_of_china,
    parse_coord_type,
    to_gcj02,
    wgs84_to_gcj02,
)
from backend.geo.distance import haversine_m

# (wgs_lng, wgs_lat, gcj_lng, gcj_lat), published expectations of two independent implementations:
# - googollee/eviltransform, python/test.py and go/transform_test.go (Shanghai, Shenzhen, Beijing);
# - wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915) (Beijing, Tiananmen).
PUBLISHED = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]

# Wenzhou's extent, from Taishun in the south-west to Dongtou and Yueqing in the north-east.
WENZHOU_GRID = [
    (round(119.6 + i * 0.05, 2), round(27.0 + j * 0.05, 2)) for i in range(35) for j in range(33)
]


@pytest.mark.parametrize(("wlng", "wlat", "glng", "glat"), PUBLISHED)
def test_forward_matches_published_vectors(wlng, wlat, glng, glat):
    lng, lat = wgs84_to_gcj02(wlng, wlat)
    # Same formula, same IEEE arithmetic: agreement far beyond the 1e-6 the sources themselves assert.
    assert lng == pytest.approx(glng, abs=1e-9) and lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlng", "wlat", "glng", "glat"), PUBLISHED)
def test_inverse_recovers_published_vectors(wlng, wlat, glng, glat):
    lng, lat = gcj02_to_wgs84(glng, glat)
    assert abs(lng - wlng) < 1e-7 and abs(lat - wlat) < 1e-7


def test_exact_inverse_beats_the_one_step_approximation():
    # wandergis/coordtransform, test/app.js: gcj02towgs84(116.404, 39.915) is a single-step estimate
    # (116.39775550083061, 39.91359571849836); the exact inverse lies a few centimetres from it and
    # maps forward onto the input.
    lng, lat = gcj02_to_wgs84(116.404, 39.915)
    assert haversine_m(lng, lat, 116.39775550083061, 39.91359571849836) < 0.5
    forward = wgs84_to_gcj02(lng, lat)
    assert abs(forward[0] - 116.404) < 1e-9 and abs(forward[1] - 39.915) < 1e-9


def test_round_trip_over_wenzhou_both_ways():
    worst = 0.0
    for lng, lat in WENZHOU_GRID:
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lng, lat))
        again = wgs84_to_gcj02(*gcj02_to_wgs84(lng, lat))
        worst = max(worst, abs(back[0] - lng), abs(back[1] - lat), abs(again[0] - lng), abs(again[1] - lat))
    assert worst < 1e-7


@pytest.mark.parametrize(("max_iter", "converged"), [(1, False), (5, True)])
def test_inverse_iterations_are_bounded(max_iter, converged):
    lng, lat = gcj02_to_wgs84(120.70, 28.00, max_iter=max_iter)
    forward = wgs84_to_gcj02(lng, lat)
    error = max(abs(forward[0] - 120.70), abs(forward[1] - 28.00))
    assert (error < 1e-9) is converged


def test_the_shift_in_wenzhou_is_550_to_600_metres_to_the_south_east():
    shifts = []
    for lng, lat in WENZHOU_GRID:
        glng, glat = wgs84_to_gcj02(lng, lat)
        assert glng > lng and glat < lat  # GCJ-02 sits east and south of the GPS position here
        shifts.append(haversine_m(lng, lat, glng, glat))
    assert 530 < min(shifts) and max(shifts) < 600


@pytest.mark.parametrize(
    ("lng", "lat", "outside"),
    [
        (-0.1276, 51.5072, True),  # London
        (151.2093, -33.8688, True),  # Sydney
        (120.70, 28.00, False),  # Wenzhou
        # the edges of the box the formula has always used, both sides
        (72.0039, 30.0, True),
        (72.0041, 30.0, False),
        (137.8348, 30.0, True),
        (137.8346, 30.0, False),
        (110.0, 0.8292, True),
        (110.0, 0.8294, False),
        (110.0, 55.8272, True),
        (110.0, 55.8270, False),
    ],
)
def test_out_of_china_box(lng, lat, outside):
    assert out_of_china(lng, lat) is outside
    if outside:
        assert wgs84_to_gcj02(lng, lat) == (lng, lat) == gcj02_to_wgs84(lng, lat)
    else:
        assert wgs84_to_gcj02(lng, lat) != (lng, lat)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, CoordType.WGS84),  # wx.getLocation's default
        ("gcj02", CoordType.GCJ02),
        ("GCJ02", CoordType.GCJ02),
        ("WGS84", CoordType.WGS84),
        (" gcj02 ", CoordType.GCJ02),
        (CoordType.GCJ02, CoordType.GCJ02),
    ],
)
def test_parse_coord_type(value, expected):
    assert parse_coord_type(value) is expected


@pytest.mark.parametrize("value", ["bd09", "", "gcj-02", "wgs-84", 2, ["gcj02"]])
def test_bad_coord_type(value):
    with pytest.raises(BadRequest) as err:
        parse_coord_type(value)
    assert err.value.code == "COORD_TYPE_INVALID" and err.value.status_code == 400


@pytest.mark.parametrize(
    ("coord_type", "expected"),
    [
        ("gcj02", (120.70, 28.00)),
        (CoordType.GCJ02, (120.70, 28.00)),
        ("wgs84", wgs84_to_gcj02(120.70, 28.00)),
        (None, wgs84_to_gcj02(120.70, 28.00)),
    ],
)
def test_to_gcj02_converts_only_wgs84(coord_type, expected):
    assert to_gcj02(120.70, 28.00, coord_type) == expected


@pytest.mark.parametrize(
    ("lng", "lat"),
    [
        (180.0001, 28),
        (-180.0001, 28),
        (120, 90.0001),
        (120, -90.0001),
        (math.nan, 28),
        (120, math.inf),
        (-math.inf, 28),
        ("120.7", 28),  # a string is a client bug even when it reads as a number
        (True, 28),
        (120, None),
    ],
)
def test_out_of_range(lng, lat):
    with pytest.raises(BadRequest) as err:
        to_gcj02(lng, lat, "wgs84")
    assert err.value.code == "COORD_OUT_OF_RANGE"


@pytest.mark.parametrize(("lng", "lat"), [(180, 90), (-180, -90), (180.0, -90.0), (0, 0)])
def test_boundaries_of_the_range_are_accepted(lng, lat):
    assert check_range(lng, lat) == (float(lng), float(lat))
    assert to_gcj02(lng, lat, "gcj02") == (lng, lat)
    assert to_gcj02(lng, lat, "wgs84") == (lng, lat)  # all outside China: passthrough


def test_range_is_checked_before_the_coord_type():
    with pytest.raises(BadRequest) as err:
        to_gcj02(200, 28, "bd09")
    assert err.value.code == "COORD_OUT_OF_RANGE"
