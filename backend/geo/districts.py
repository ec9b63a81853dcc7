"""District polygons (GCJ-02): loading GeoJSON, point→district lookup, and site geofences."""

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
# Points within this distance of a border count as inside (boundaries are simplified).
_BORDER_TOLERANCE_DEG = 1e-9


@dataclass(frozen=True, slots=True)
class DistrictFeature:
    adcode: int
    name: str
    geometry: dict[str, Any]
    center: tuple[float, float]


def default_geojson_path() -> Path:
    """The boundaries shipped with the code (see data/SOURCE.md)."""
    return Path(__file__).resolve().parent / "data" / "wenzhou_districts_330300_full.json"


def load_geojson(path: str | Path) -> list[DistrictFeature]:
    """Read a FeatureCollection of (Multi)Polygons with adcode and name properties."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    features = []
    for i, feature in enumerate(data["features"]):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{path}: feature {i} is not a (Multi)Polygon")
        if "adcode" not in props or "name" not in props:
            raise ValueError(f"{path}: feature {i} lacks adcode or name")
        geom = shape(geometry)
        if geom.is_empty or not geom.is_valid:
            geom = shapely.make_valid(geom)
        center = props.get("center") or [geom.centroid.x, geom.centroid.y]
        features.append(
            DistrictFeature(
                adcode=int(props["adcode"]),
                name=str(props["name"]),
                geometry=geometry,
                center=(float(center[0]), float(center[1])),
            )
        )
    if not features:
        raise ValueError(f"{path}: no features")
    return features


class DistrictIndex:
    """Point-in-polygon lookup over district boundaries with an STRtree (O(log n) candidates)."""

    def __init__(self, items: Iterable[tuple[int, dict[str, Any]]]) -> None:
        pairs = sorted(items, key=lambda item: item[0])
        self._adcodes = [adcode for adcode, _ in pairs]
        geoms = []
        for _, geometry in pairs:
            geom = shape(geometry)
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            shapely.prepare(geom)
            geoms.append(geom)
        self._geoms = geoms
        self._tree = STRtree(geoms) if geoms else None

    def __len__(self) -> int:
        return len(self._adcodes)

    @property
    def adcodes(self) -> list[int]:
        return list(self._adcodes)

    def locate(self, lng: float, lat: float) -> int | None:
        """The adcode containing a GCJ-02 point; the smallest adcode wins on a shared border."""
        if self._tree is None:
            return None
        point = Point(lng, lat)
        for i in sorted(self._tree.query(point)):  # candidates by bounding box, in adcode order
            if self._geoms[i].intersects(point) or self._geoms[i].distance(point) <= _BORDER_TOLERANCE_DEG:
                return self._adcodes[i]
        return None


def _local_xy(lng: float, lat: float, lng0: float, lat0: float) -> tuple[float, float]:
    """Equirectangular projection around (lng0, lat0), metres; accurate to ~0.1% across a city."""
    x = math.radians(lng - lng0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y


def parse_polygon(geojson: dict[str, Any]) -> Polygon:
    """A site geofence: a valid GeoJSON Polygon of reasonable size, or GEOFENCE_INVALID."""

    def bad(reason: str) -> BadRequest:
        return BadRequest("GEOFENCE_INVALID", detail=reason)

    if not isinstance(geojson, dict):
        raise bad("not an object")
    geometry = geojson.get("geometry") if geojson.get("type") == "Feature" else geojson
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise bad("must be a GeoJSON Polygon")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or not isinstance(rings[0], list):
        raise bad("coordinates must be a list of rings")
    vertices = sum(len(r) for r in rings if isinstance(r, list))
    if vertices > _MAX_FENCE_VERTICES:
        raise bad(f"more than {_MAX_FENCE_VERTICES} vertices")
    try:
        for ring in rings:
            for pt in ring:
                lng, lat = float(pt[0]), float(pt[1])
                if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
                    raise bad("coordinate out of range")
        polygon = shape(geometry)
    except BadRequest:
        raise
    except (TypeError, ValueError, IndexError, shapely.errors.ShapelyError) as exc:
        raise bad(f"unreadable coordinates: {exc}") from exc
    distinct = {tuple(pt[:2]) for pt in rings[0]}
    if polygon.is_empty or len(distinct) < 3:
        raise bad("fewer than 3 distinct points")
    if not polygon.is_valid:
        raise bad(f"invalid polygon: {shapely.is_valid_reason(polygon)}")
    min_lng, min_lat, max_lng, max_lat = polygon.bounds
    x0, y0 = _local_xy(min_lng, min_lat, min_lng, min_lat)
    x1, y1 = _local_xy(max_lng, max_lat, min_lng, min_lat)
    if math.hypot(x1 - x0, y1 - y0) > _MAX_FENCE_SPAN_M:
        raise bad(f"larger than {_MAX_FENCE_SPAN_M:.0f} m across")
    if polygon.area == 0:
        raise bad("zero area")
    return polygon


def distance_to_polygon_m(polygon: Polygon, lng: float, lat: float) -> float:
    """Metres from a point to a polygon (0 inside), in a projection centred on the point."""
    if polygon.covers(Point(lng, lat)):
        return 0.0
    projected = shapely.transform(
        polygon, lambda coords: _project_array(coords, lng, lat)
    )
    return float(projected.distance(Point(0.0, 0.0)))


def _project_array(coords: Any, lng0: float, lat0: float) -> Any:
    k = math.pi / 180.0 * EARTH_RADIUS_M
    out = np.empty_like(coords)
    out[:, 0] = (coords[:, 0] - lng0) * k * math.cos(math.radians(lat0))
    out[:, 1] = (coords[:, 1] - lat0) * k
    return out


def point_in_fence(polygon: Polygon, lng: float, lat: float, tolerance_m: float = 0.0) -> bool:
    """Inside the geofence, or within ``tolerance_m`` of it (GPS is not exact)."""
    return distance_to_polygon_m(polygon, lng, lat) <= tolerance_m
