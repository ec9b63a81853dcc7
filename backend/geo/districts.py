"""District polygons (GCJ-02): loading GeoJSON, point→district lookup, and site geofences (电子围栏)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.strtree import STRtree

from backend.errors import BadRequest
from backend.geo.distance import EARTH_RADIUS_M

_MAX_FENCE_VERTICES = 500
_MAX_FENCE_SPAN_M = 5_000.0
# A point this close to a district counts as in it, so that boundaries imported from sources whose
# neighbours do not share vertices exactly leave no sub-centimetre cracks (about 1 cm).
_BORDER_TOLERANCE_DEG = 1e-7
_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class DistrictFeature:
    """One county-level division (区县): adcode, name, GeoJSON geometry (GCJ-02), centre (lng, lat)."""

    adcode: int
    name: str
    geometry: dict[str, Any]
    center: tuple[float, float]


def default_geojson_path() -> Path:
    """The boundaries shipped with the code (see data/SOURCE.md)."""
    return Path(__file__).resolve().parent / "data" / "wenzhou_districts_330300_full.json"


def load_geojson(path: str | Path) -> list[DistrictFeature]:
    """Read a FeatureCollection of (Multi)Polygons with adcode and name properties."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    if not isinstance(data.get("features"), list) or not data["features"]:
        raise ValueError(f"{path}: the FeatureCollection has no features")
    features: list[DistrictFeature] = []
    seen: set[int] = set()
    for i, feature in enumerate(data["features"]):
        where = f"{path}: feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValueError(f"{where} is not a GeoJSON Feature")
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        if not isinstance(geometry, dict) or geometry.get("type") not in _POLYGONAL:
            raise ValueError(f"{where} is not a Polygon or MultiPolygon")
        try:
            adcode = int(props["adcode"])
            name = str(props["name"]).strip()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where} lacks a numeric adcode or a name") from exc
        if not name:
            raise ValueError(f"{where} has an empty name")
        if adcode in seen:
            raise ValueError(f"{where}: adcode {adcode} appears twice")
        seen.add(adcode)
        geom = _polygonal(geometry, where)
        features.append(
            DistrictFeature(adcode=adcode, name=name, geometry=geometry, center=_center(props, geom, where))
        )
    return features


def _polygonal(geometry: dict[str, Any], where: str) -> shapely.Geometry:
    try:
        geom = shape(geometry)
    except (TypeError, ValueError, IndexError, KeyError, shapely.errors.ShapelyError) as exc:
        raise ValueError(f"{where}: unreadable coordinates ({exc})") from exc
    if geom.is_empty:
        raise ValueError(f"{where}: empty geometry")
    if not geom.is_valid:
        # Published boundaries sometimes self-touch; make_valid keeps the area, which is all we use.
        geom = shapely.make_valid(geom)
    return geom


def _center(props: dict[str, Any], geom: shapely.Geometry, where: str) -> tuple[float, float]:
    # DataV's "center" is the seat of government; without one, a point surely inside the polygon
    # (a centroid can fall outside a crescent-shaped district).
    center = props.get("center")
    if center is None:
        point = geom.representative_point()
        return float(point.x), float(point.y)
    try:
        lng, lat = float(center[0]), float(center[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{where}: center is not [lng, lat]") from exc
    if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
        raise ValueError(f"{where}: center is out of range")
    return lng, lat


class DistrictIndex:
    """Point→district lookup: an STRtree over prepared polygons, O(log n) per point."""

    def __init__(self, items: Iterable[tuple[int, dict[str, Any] | str]]) -> None:
        # Sorted by adcode so that tree indices are in adcode order: ties resolve to the smallest.
        pairs = sorted(((int(adcode), geometry) for adcode, geometry in items), key=lambda item: item[0])
        self._adcodes = [adcode for adcode, _ in pairs]
        if len(set(self._adcodes)) != len(self._adcodes):
            raise ValueError("duplicate adcode in district boundaries")
        geoms = []
        for adcode, geometry in pairs:
            if isinstance(geometry, str):  # a JSON column read without load_json
                geometry = json.loads(geometry)
            if not isinstance(geometry, dict) or geometry.get("type") not in _POLYGONAL:
                raise ValueError(f"district {adcode}: boundary is not a Polygon or MultiPolygon")
            geom = _polygonal(geometry, f"district {adcode}")
            shapely.prepare(geom)
            geoms.append(geom)
        self._geoms = geoms
        self._tree = STRtree(geoms) if geoms else None

    def __len__(self) -> int:
        return len(self._adcodes)

    @property
    def adcodes(self) -> list[int]:
        """The indexed adcodes, ascending."""
        return list(self._adcodes)

    def locate(self, lng: float, lat: float) -> int | None:
        """The adcode of the district containing a GCJ-02 point; on a shared border the smallest wins."""
        if self._tree is None or not (math.isfinite(lng) and math.isfinite(lat)):
            return None
        point = Point(lng, lat)
        t = _BORDER_TOLERANCE_DEG
        # The tree narrows to the few districts whose bounding box is within reach of the point; the
        # prepared polygons then answer in O(log vertices).
        for i in sorted(self._tree.query(shapely.box(lng - t, lat - t, lng + t, lat + t))):
            if shapely.dwithin(self._geoms[i], point, _BORDER_TOLERANCE_DEG):
                return self._adcodes[i]
        return None


def parse_polygon(geojson: dict[str, Any]) -> Polygon:
    """A site geofence: a valid GeoJSON Polygon (or a Feature of one) of site size, or GEOFENCE_INVALID."""

    def bad(reason: str) -> BadRequest:
        return BadRequest("GEOFENCE_INVALID", detail=reason)

    if not isinstance(geojson, dict):
        raise bad("not a JSON object")
    geometry = geojson.get("geometry") if geojson.get("type") == "Feature" else geojson
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise bad("must be a GeoJSON Polygon")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise bad("coordinates must be a list of rings")
    # Counted before any per-vertex work, so that an oversized fence is refused cheaply; a ring's
    # closing point repeats its first and is not a vertex of its own.
    vertices = sum(len(r) - (1 if len(r) > 1 and r[0] == r[-1] else 0) for r in rings)
    if vertices > _MAX_FENCE_VERTICES:
        raise bad(f"more than {_MAX_FENCE_VERTICES} vertices")
    clean_rings = [[_fence_point(pt) for pt in ring] for ring in rings]
    for ring in clean_rings:
        if len(set(ring)) < 3:
            raise bad("fewer than 3 distinct points")
    try:
        polygon = Polygon(clean_rings[0], clean_rings[1:])
    except (ValueError, shapely.errors.ShapelyError) as exc:
        raise bad(f"unreadable ring: {exc}") from exc
    if polygon.convex_hull.area == 0:  # checked first: GEOS calls a flat ring a self-intersection
        raise bad("zero area: the points lie on a line")
    if not polygon.is_valid:
        raise bad(f"invalid polygon: {shapely.is_valid_reason(polygon)}")
    min_lng, min_lat, max_lng, max_lat = polygon.bounds
    corner = _project(np.array([[max_lng, max_lat]]), min_lng, min_lat, (min_lat + max_lat) / 2)[0]
    if math.hypot(corner[0], corner[1]) > _MAX_FENCE_SPAN_M:
        raise bad(f"larger than {_MAX_FENCE_SPAN_M:.0f} m across")
    shapely.prepare(polygon)  # every clock-in asks this fence whether it covers a point
    return polygon


def _fence_point(pt: Any) -> tuple[float, float]:
    # float() would take "120.6" and True: a fence with such values is a client bug, not a fence.
    if not isinstance(pt, list | tuple) or len(pt) < 2:
        raise BadRequest("GEOFENCE_INVALID", detail="a position must be [lng, lat]")
    lng, lat = pt[0], pt[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lng, lat)):
        raise BadRequest("GEOFENCE_INVALID", detail="coordinates must be numbers")
    if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
        raise BadRequest("GEOFENCE_INVALID", detail="coordinate out of range")
    return float(lng), float(lat)  # altitude, if any, is dropped: fences are 2-D


def _project(coords: np.ndarray, lng0: float, lat0: float, lat_scale: float | None = None) -> np.ndarray:
    """Equirectangular projection to metres east/north of (lng0, lat0); ~0.3% error at city scale."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    cos_lat = math.cos(math.radians(lat0 if lat_scale is None else lat_scale))
    out = np.empty_like(coords, dtype=float)
    out[:, 0] = (coords[:, 0] - lng0) * k * cos_lat
    out[:, 1] = (coords[:, 1] - lat0) * k
    return out


def distance_to_polygon_m(polygon: Polygon, lng: float, lat: float) -> float:
    """Metres from a point to a polygon (0 inside or on the edge), in a projection centred on the point."""
    point = Point(lng, lat)
    if polygon.covers(point):
        return 0.0
    # Centring the projection on the point keeps the scale error where it matters, near the point.
    projected = shapely.transform(polygon, lambda coords: _project(coords, lng, lat))
    return float(projected.distance(Point(0.0, 0.0)))


def point_in_fence(polygon: Polygon, lng: float, lat: float, tolerance_m: float = 0.0) -> bool:
    """Inside the geofence, or within ``tolerance_m`` metres of it (GPS is not exact)."""
    return distance_to_polygon_m(polygon, lng, lat) <= tolerance_m
