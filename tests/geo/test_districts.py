"""District polygons and geofences (pure, table-driven)."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from backend.errors import BadRequest
from backend.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from backend.geo.districts import (
    DistrictIndex,
    default_geojson_path,
    distance_to_polygon_m,
    load_geojson,
    parse_polygon,
    point_in_fence,
)

ADCODES = [330302, 330303, 330304, 330305, 330324, 330326, 330327, 330328, 330329, 330381, 330382, 330383]


@pytest.fixture(scope="module")
def features():
    return load_geojson(default_geojson_path())


@pytest.fixture(scope="module")
def index(features):
    return DistrictIndex((f.adcode, f.geometry) for f in features)


def test_the_twelve_districts(features, index):
    assert sorted(f.adcode for f in features) == ADCODES and len(index) == 12
    assert {f.name for f in features} >= {"鹿城区", "龙湾区", "洞头区", "龙港市"}


def test_every_district_contains_its_own_inner_point(features, index):
    for f in features:
        point = shape(f.geometry).representative_point()
        assert index.locate(point.x, point.y) == f.adcode


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [
        (120.674231, 28.003352, 330302),  # 鹿城区 centre (GCJ-02, from the data's own properties)
        (121.15, 27.85, 330305),  # Dongtou islands
        (116.397, 39.909, None),  # Beijing
        (122.5, 27.5, None),  # the open sea
    ],
)
def test_known_places(index, lng, lat, expected):
    assert index.locate(lng, lat) == expected


def test_coord_type_matters_near_a_border(features, index):
    """Somewhere near a border a WGS-84 point read as GCJ-02 lands in the wrong district."""
    found = None
    lc = shape(next(f for f in features if f.adcode == 330302).geometry)
    ring = (lc.geoms[0] if lc.geom_type == "MultiPolygon" else lc).exterior.coords
    for lng, lat in list(ring)[::5]:
        for dlng in (-0.004, 0.004):
            for dlat in (-0.004, 0.004):
                gcj = (lng + dlng, lat + dlat)
                wgs = gcj02_to_wgs84(*gcj)
                right, wrong = index.locate(*gcj), index.locate(*wgs)
                if right is not None and wrong != right:
                    found = (gcj, wgs, right, wrong)
                    break
            if found:
                break
        if found:
            break
    assert found, "no border point where the ~550 m shift changes the district"
    gcj, wgs, right, _ = found
    assert index.locate(*wgs84_to_gcj02(*wgs)) == right


def test_bad_geojson_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "Feature"}', encoding="utf-8")
    with pytest.raises(ValueError, match="FeatureCollection"):
        load_geojson(bad)
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"adcode": 1, "name": "x"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="Polygon"):
        load_geojson(bad)


def _square(lng, lat, half):
    return {"type": "Polygon", "coordinates": [[[lng - half, lat - half], [lng + half, lat - half], [lng + half, lat + half], [lng - half, lat + half], [lng - half, lat - half]]]}


@pytest.mark.parametrize(
    ("fence", "reason"),
    [
        ({"type": "Point", "coordinates": [120, 28]}, "Polygon"),
        ({"type": "Polygon", "coordinates": [[[120, 28], [120.001, 28.001], [120.001, 28], [120, 28.001], [120, 28]]]}, "invalid"),
        ({"type": "Polygon", "coordinates": [[[120, 28], [120.001, 28], [120, 28]]]}, "fewer than 3"),
        ({"type": "Polygon", "coordinates": [[[200, 28], [120.001, 28], [120.001, 28.001], [200, 28]]]}, "range"),
        (_square(120.6, 28.0, 0.05), "across"),
        ({"type": "Polygon", "coordinates": [[[120 + i * 1e-6, 28 + (i % 2) * 1e-6] for i in range(501)]]}, "vertices"),
    ],
)
def test_geofence_refusals(fence, reason):
    with pytest.raises(BadRequest) as err:
        parse_polygon(fence)
    assert err.value.code == "GEOFENCE_INVALID" and reason in err.value.detail


def test_geofence_accepts_a_feature_and_measures_distance():
    half = 0.00045  # ~100 m square around (120.6, 28.0)
    fence = parse_polygon({"type": "Feature", "geometry": _square(120.6, 28.0, half)})
    assert distance_to_polygon_m(fence, 120.6, 28.0) == 0
    for metres in (50, 200):
        lng = 120.6 + half + metres / (111_195 * 0.8829)
        assert distance_to_polygon_m(fence, lng, 28.0) == pytest.approx(metres, rel=0.02)
    assert point_in_fence(fence, 120.6 + half + 20 / 98_174, 28.0, tolerance_m=25)
    assert not point_in_fence(fence, 120.6 + half + 30 / 98_174, 28.0, tolerance_m=25)
