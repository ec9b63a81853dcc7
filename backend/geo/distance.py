"""Great-circle distance and bounding boxes for nearby searches (metres, degrees)."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Distance in metres between two points on the mean Earth sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bbox(lng: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lng, min_lat, max_lng, max_lat) enclosing a circle, for an index-friendly pre-filter."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lng - dlng, lat - dlat, lng + dlng, lat + dlat
