"""District polygons and geofences (pure, table-driven)."""

from __future__ import annotations

import json
import math
import time

import pytest
from shapely.geometry import shape

from backend.errors import BadRequest
from backend.geo.coords import to_gcj02, wgs84_to_gcj02
from backend.geo.distance import haversine_m
from backend.geo.districts import (
    DistrictFeature,
    DistrictIndex,
    default_geojson_path,
    distance_to_polygon_m,
    load_geojson,
    parse_polygon,
    point_in_fence,
)

NAMES = {
    330302: "鹿城区",
    330303: "龙湾区",
    330304: "瓯海区",
    330305: "洞头区",
    330324: "永嘉县",
    330326: "平阳县",
    330327: "苍南县",
    330328: "文成县",
    330329: "泰顺县",
    330381: "瑞安市",
    330382: "乐清市",
    330383: "龙港市",
}
M_PER_DEG_LAT = 111_195.0  # on the mean sphere, as backend.geo.distance measures


@pytest.fixture(scope="module")
def features():
    return load_geojson(default_geojson_path())


@pytest.fixture(scope="module")
def index(features):
    return DistrictIndex((f.adcode, f.geometry) for f in features)


# ---- the shipped boundaries ---------------------------------------------------------------


def test_the_twelve_districts(features, index):
    assert {f.adcode: f.name for f in features} == NAMES
    assert len(index) == 12 and index.adcodes == sorted(NAMES)
    assert all(isinstance(f, DistrictFeature) and f.geometry["type"] == "MultiPolygon" for f in features)


def test_every_district_contains_its_own_inner_point(features, index):
    for f in features:
        point = shape(f.geometry).representative_point()
        assert index.locate(point.x, point.y) == f.adcode, f.name


def test_every_seat_of_government_lies_in_its_district(features, index):
    # DataV's "center" is the seat of government (瓯海区's is under 300 m from 鹿城区).
    for f in features:
        assert index.locate(*f.center) == f.adcode, f.name


@pytest.mark.parametrize(
    ("place", "lng", "lat", "expected"),
    [
        # GPS (WGS-84) positions from public gazetteers, converted as a phone's would be; each lies
        # kilometres inside its district, so the simplified boundaries cannot decide the answer.
        ("Wenzhou Longwan International Airport", *wgs84_to_gcj02(120.8522, 27.9122), 330303),
        ("Yandang Mountain, Lingfeng (雁荡山灵峰)", *wgs84_to_gcj02(121.0700, 28.3800), 330382),
        # GCJ-02 positions (AMap)
        ("Dongtou, Beiyu island (洞头区政府)", 121.1570, 27.8360, 330305),
        ("Fuzhou, Fujian", 119.2960, 26.0740, None),
        ("Ningde, Fujian", 119.5480, 26.6650, None),
        ("Taizhou, Jiaojiang", 121.4200, 28.6560, None),
        ("Wenling, Taizhou", 121.3850, 28.3720, None),
        ("Lishui", 119.9200, 28.4500, None),
        ("East China Sea", 122.5000, 27.5000, None),
    ],
)
def test_known_places(index, place, lng, lat, expected):
    assert index.locate(lng, lat) == expected, place


@pytest.mark.parametrize(
    ("gps", "right", "wrong"),
    [
        # Found by scanning a 0.001° grid over the city centre for points ≥ 250 m from every border
        # on both readings: the ~570 m shift carries them across a district line.
        ((120.729, 27.996), 330303, 330302),  # 龙湾区, not 鹿城区
        ((120.704, 27.981), 330304, 330302),  # 瓯海区, not 鹿城区
    ],
)
def test_coord_type_decides_the_district_near_a_border(index, gps, right, wrong):
    assert index.locate(*to_gcj02(*gps, "wgs84")) == right
    assert index.locate(*to_gcj02(*gps, None)) == right  # wx.getLocation's default is WGS-84
    assert index.locate(*to_gcj02(*gps, "gcj02")) == wrong  # a GPS fix taken for GCJ-02


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [
        (120.673529, 27.983154, 330302),  # a vertex both 鹿城区 and 瓯海区 share: smallest adcode
        (120.666955, 27.9812095, 330302),  # the middle of that shared edge
        (120.667, 27.98130, 330302),  # ~8 m north of the edge
        (120.667, 27.98115, 330304),  # ~8 m south of it
    ],
)
def test_shared_border(index, features, lng, lat, expected):
    assert index.locate(lng, lat) == expected
    reversed_index = DistrictIndex((f.adcode, f.geometry) for f in reversed(features))
    assert reversed_index.locate(lng, lat) == expected  # the answer does not depend on input order


def test_locate_is_fast(index):
    points = [(119.6 + (i % 100) * 0.017, 27.0 + (i // 100) * 0.016) for i in range(10_000)]
    start = time.perf_counter()
    for lng, lat in points:
        index.locate(lng, lat)
    per_call = (time.perf_counter() - start) / len(points)
    assert per_call < 200e-6  # ~7 µs here; the bound only catches a fall back to linear scans


# ---- the index on synthetic squares -------------------------------------------------------


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [
        (0.5, 0.5, 1),
        (1.5, 0.5, 2),
        (1.0, 0.5, 1),  # on the shared edge
        (1.0 + 5e-8, 0.5, 1),  # within the 1e-7° (≈1 cm) tolerance of 1, inside 2: smallest wins
        (1.0 + 2e-7, 0.5, 2),  # beyond it
        (2.0 + 5e-8, 0.5, 2),  # just outside the outer edge, within tolerance
        (2.0 + 2e-7, 0.5, None),
        (2.5, 2.5, None),  # inside both bounding boxes' union, in neither square
        (math.nan, 0.5, None),
    ],
)
def test_index_on_two_squares(lng, lat, expected):
    index = DistrictIndex([(2, _box(1, 0, 2, 1)), (1, _box(0, 0, 1, 1))])
    assert index.locate(lng, lat) == expected


def test_index_edge_cases():
    assert DistrictIndex([]).locate(0.5, 0.5) is None and len(DistrictIndex([])) == 0
    as_text = DistrictIndex([(7, json.dumps(_box(0, 0, 1, 1)))])  # a JSON column read as text
    assert as_text.locate(0.5, 0.5) == 7 and as_text.adcodes == [7]
    with pytest.raises(ValueError, match="duplicate"):
        DistrictIndex([(1, _box(0, 0, 1, 1)), (1, _box(1, 0, 2, 1))])
    with pytest.raises(ValueError, match="Polygon"):
        DistrictIndex([(1, {"type": "Point", "coordinates": [0, 0]})])


# ---- loading GeoJSON ----------------------------------------------------------------------


def _collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(geometry=None, **props):
    props = {"adcode": 1, "name": "x", **props}
    return {"type": "Feature", "properties": props, "geometry": geometry or _box(0, 0, 1, 1)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps([1, 2]), "FeatureCollection"),
        (json.dumps({"type": "Feature"}), "FeatureCollection"),
        (json.dumps(_collection()), "no features"),
        (json.dumps(_collection([1, 2])), "not a GeoJSON Feature"),
        (json.dumps(_collection(_feature({"type": "Point", "coordinates": [1, 2]}))), "Polygon"),
        (json.dumps(_collection(_feature(adcode="abc"))), "adcode"),
        (json.dumps(_collection({"type": "Feature", "properties": {"name": "x"}, "geometry": _box(0, 0, 1, 1)})), "adcode"),
        (json.dumps(_collection(_feature(name=" "))), "empty name"),
        (json.dumps(_collection(_feature(), _feature())), "appears twice"),
        (json.dumps(_collection(_feature(center="here"))), "center"),
        (json.dumps(_collection(_feature(center=[200, 0]))), "center"),
        (json.dumps(_collection(_feature({"type": "Polygon", "coordinates": [[[0, 0], [1]]]}))), "unreadable"),
        (json.dumps(_collection(_feature({"type": "Polygon", "coordinates": []}))), "empty"),
    ],
)
def test_bad_geojson_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_geojson(path)


def test_a_feature_without_center_gets_an_inner_point(tmp_path):
    path = tmp_path / "ring.json"
    # A U shape, whose centroid (1.5, ~1.2) falls in the notch, outside the polygon.
    u_shape = {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]]}
    path.write_text(json.dumps(_collection(_feature(u_shape, adcode="42"))), encoding="utf-8")
    (feature,) = load_geojson(path)
    assert feature.adcode == 42 and DistrictIndex([(42, feature.geometry)]).locate(*feature.center) == 42


# ---- site geofences -----------------------------------------------------------------------

LNG0, LAT0 = 120.70, 28.00  # Wenzhou city centre, GCJ-02
M_PER_DEG_LNG = M_PER_DEG_LAT * math.cos(math.radians(LAT0))


def _square_m(side_m, lng=LNG0, lat=LAT0):
    """A square of side ``side_m`` metres centred on (lng, lat)."""
    h_lng, h_lat = side_m / 2 / M_PER_DEG_LNG, side_m / 2 / M_PER_DEG_LAT
    return _box(lng - h_lng, lat - h_lat, lng + h_lng, lat + h_lat)


def _circle(n, radius_m=100.0):
    ring = [
        [LNG0 + radius_m * math.cos(2 * math.pi * k / n) / M_PER_DEG_LNG,
         LAT0 + radius_m * math.sin(2 * math.pi * k / n) / M_PER_DEG_LAT]
        for k in range(n)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _poly(*points):
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


A, B, C, D = (120.70, 28.00), (120.701, 28.00), (120.701, 28.001), (120.70, 28.001)


@pytest.mark.parametrize(
    ("fence", "reason"),
    [
        ("POLYGON((...))", "JSON object"),
        ({"type": "Point", "coordinates": [120, 28]}, "Polygon"),
        ({"type": "MultiPolygon", "coordinates": [[[A, B, C, A]]]}, "Polygon"),
        ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [A, B]}}, "Polygon"),
        ({"type": "Polygon", "coordinates": []}, "list of rings"),
        ({"type": "Polygon", "coordinates": [A, B, C]}, "list of rings"),
        (_poly(A, C, B, D, A), "Self-intersection"),  # a bow tie
        (_poly(A, B, A), "fewer than 3"),
        (_poly(A, B, B, A), "fewer than 3"),
        (_poly(A, B, (120.702, 28.00), A), "zero area"),  # three points on a line
        (_poly((180.0001, 28.0), B, C, (180.0001, 28.0)), "out of range"),
        (_poly((120.0, 90.0001), B, C, (120.0, 90.0001)), "out of range"),
        (_poly((math.nan, 28.0), B, C, (math.nan, 28.0)), "out of range"),
        (_poly(("120.70", "28.00"), B, C, ("120.70", "28.00")), "numbers"),
        (_poly((True, False), B, C, (True, False)), "numbers"),
        (_poly((120.70,), B, C, A), "[lng, lat]"),
        (_circle(501), "more than 500 vertices"),
        (_square_m(5_100 / math.sqrt(2)), "larger than 5000 m"),  # diagonal 5.1 km
    ],
)
def test_geofence_refusals(fence, reason):
    with pytest.raises(BadRequest) as err:
        parse_polygon(fence)
    assert err.value.code == "GEOFENCE_INVALID" and reason in err.value.detail


@pytest.mark.parametrize(
    "fence",
    [
        _poly(A, B, C, A),  # a triangle: exactly 3 distinct points
        _poly(A, B, C),  # an unclosed ring is closed for the client
        _circle(500),  # exactly 500 vertices
        _square_m(4_900 / math.sqrt(2)),  # diagonal 4.9 km
        {"type": "Feature", "properties": {}, "geometry": _square_m(100)},
        {"type": "Polygon", "coordinates": [[[*p, 12.5] for p in (A, B, C, D, A)]]},  # with altitude
        {"type": "Polygon", "coordinates": [_square_m(200)["coordinates"][0], _square_m(50)["coordinates"][0]]},
    ],
)
def test_geofence_acceptances(fence):
    polygon = parse_polygon(fence)
    assert polygon.is_valid and polygon.area > 0 and not polygon.has_z


def test_a_fence_with_a_hole_excludes_the_hole():
    fence = parse_polygon({"type": "Polygon", "coordinates": [_square_m(200)["coordinates"][0], _square_m(50)["coordinates"][0]]})
    assert distance_to_polygon_m(fence, LNG0, LAT0) == pytest.approx(25, rel=0.02)


@pytest.mark.parametrize(
    ("d_lng_m", "d_lat_m", "expected_m"),
    [
        (0, 0, 0.0),  # the centre
        (50, 0, 0.0),  # on the east edge
        (100, 0, 50.0),
        (250, 0, 200.0),
        (-250, 0, 200.0),
        (0, 100, 50.0),  # north
        (0, -250, 200.0),
        (100, 100, 50 * math.sqrt(2)),  # off a corner
    ],
)
def test_distance_to_a_100_m_square(d_lng_m, d_lat_m, expected_m):
    fence = parse_polygon(_square_m(100))
    lng, lat = LNG0 + d_lng_m / M_PER_DEG_LNG, LAT0 + d_lat_m / M_PER_DEG_LAT
    # The reference is haversine to the nearest point of the square, not the module's own projection.
    near_lng = LNG0 + max(-50, min(50, d_lng_m)) / M_PER_DEG_LNG
    near_lat = LAT0 + max(-50, min(50, d_lat_m)) / M_PER_DEG_LAT
    assert haversine_m(lng, lat, near_lng, near_lat) == pytest.approx(expected_m, rel=0.01, abs=1e-6)
    assert distance_to_polygon_m(fence, lng, lat) == pytest.approx(expected_m, rel=0.02, abs=1e-6)


@pytest.mark.parametrize(
    ("outside_m", "tolerance_m", "inside"),
    [
        (-10, 0, True),  # inside the fence
        (0, 0, True),  # on the edge
        (5, 0, False),
        (20, 25, True),
        (24, 25, True),
        (26, 25, False),
        (30, 25, False),
    ],
)
def test_point_in_fence_with_tolerance(outside_m, tolerance_m, inside):
    fence = parse_polygon(_square_m(100))
    lng = LNG0 + (50 + outside_m) / M_PER_DEG_LNG
    assert point_in_fence(fence, lng, LAT0, tolerance_m=tolerance_m) is inside
