"""Coordinate systems: WGS-84 (GPS, wx.getLocation's default) and GCJ-02 (Chinese maps, our storage).

GCJ-02 is WGS-84 with a deterministic, non-linear offset (about 500–600 m around Wenzhou). The forward
transform is the widely published Krasovsky-ellipsoid formula; the inverse is solved by fixed-point
iteration to well under a centimetre.
"""

from __future__ import annotations

import math
from enum import StrEnum

from backend.errors import BadRequest

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # eccentricity squared


class CoordType(StrEnum):
    """The system a client's coordinates are in (wx.getLocation's ``type``)."""

    GCJ02 = "gcj02"
    WGS84 = "wgs84"


def out_of_china(lng: float, lat: float) -> bool:
    """The offset applies only inside this rough box around mainland China."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(lng: float, lat: float) -> tuple[float, float]:
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlng, dlat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """GPS coordinates to GCJ-02 (unchanged outside China)."""
    if out_of_china(lng, lat):
        return lng, lat
    dlng, dlat = _delta(lng, lat)
    return lng + dlng, lat + dlat


def gcj02_to_wgs84(lng: float, lat: float, tolerance: float = 1e-9, max_iter: int = 30) -> tuple[float, float]:
    """GCJ-02 to WGS-84 by iterating the forward transform (error below ``tolerance`` degrees)."""
    # The offset varies slowly (its derivative is ~2e-3), so each step shrinks the error ~500-fold:
    # 4-5 steps reach 1e-12 degrees; max_iter only bounds the loop.
    if out_of_china(lng, lat):
        return lng, lat
    w_lng, w_lat = lng, lat
    for _ in range(max_iter):
        g_lng, g_lat = wgs84_to_gcj02(w_lng, w_lat)
        d_lng, d_lat = g_lng - lng, g_lat - lat
        w_lng, w_lat = w_lng - d_lng, w_lat - d_lat
        if abs(d_lng) < tolerance and abs(d_lat) < tolerance:
            break
    return w_lng, w_lat


def parse_coord_type(value: str | None) -> CoordType:
    """'gcj02' / 'wgs84' (any case); None means WGS-84, wx.getLocation's default."""
    if value is None:
        return CoordType.WGS84
    if not isinstance(value, str):
        raise BadRequest("COORD_TYPE_INVALID", detail={"coord_type": repr(value)})
    try:
        return CoordType(value.strip().lower())
    except ValueError as exc:
        raise BadRequest("COORD_TYPE_INVALID", detail={"coord_type": value}) from exc


def _as_float(value: object) -> float | None:
    # bool is an int to Python and str converts with float(): both are client bugs, not coordinates.
    if isinstance(value, bool | str):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def check_range(lng: float, lat: float) -> tuple[float, float]:
    """Finite numbers within lng −180..180 and lat −90..90 as floats, else COORD_OUT_OF_RANGE."""
    x, y = _as_float(lng), _as_float(lat)
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        raise BadRequest("COORD_OUT_OF_RANGE", detail={"lng": repr(lng), "lat": repr(lat)})
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise BadRequest("COORD_OUT_OF_RANGE", detail={"lng": x, "lat": y})
    return x, y


def to_gcj02(lng: float, lat: float, coord_type: CoordType | str | None) -> tuple[float, float]:
    """Validate a point and return it in GCJ-02, the storage system."""
    lng, lat = check_range(lng, lat)
    kind = coord_type if isinstance(coord_type, CoordType) else parse_coord_type(coord_type)
    return (lng, lat) if kind is CoordType.GCJ02 else wgs84_to_gcj02(lng, lat)
