"""Helpers for complaint tests: points inside districts, photos, a report."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from shapely.geometry import shape

from backend.geo.coords import gcj02_to_wgs84
from tests.support.api import bearer, mp_login
from tests.support.images import encode, picture

_points: dict[int, tuple[float, float]] = {}


async def inside(api, headers, adcode: int) -> tuple[float, float]:
    """A GCJ-02 point surely inside the district."""
    if adcode not in _points:
        district = (await api.get(f"/api/v1/districts/{adcode}?include_boundary=true", headers=headers)).json()
        point = shape(district["boundary"]).representative_point()
        _points[adcode] = (point.x, point.y)
    return _points[adcode]


@lru_cache(maxsize=4)
def _jpeg(seed: int) -> bytes:
    return encode(picture(320, 240, seed), ".jpg")


async def photo(api, pair, purpose: str = "complaint") -> str:
    resp = await api.post(
        "/mp/v1/media", files={"file": ("p.jpg", _jpeg(1), "image/jpeg")}, data={"purpose": purpose}, headers=bearer(pair)
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


async def report(api, admin, adcode: int | None = 330302, *, pair=None, category="shoddy_work", project_id=None,
                 point: tuple[float, float] | None = None, wgs84: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """A citizen (new unless given) reports at a point of the district; returns (pair, complaint)."""
    pair = pair or await mp_login(api)
    lng, lat = point or await inside(api, admin, adcode)
    if wgs84:
        lng, lat = gcj02_to_wgs84(lng, lat)
    body = {
        "category": category,
        "description": f"楼板出现贯穿裂缝，疑似偷工减料 {uuid.uuid4().hex[:6]}",
        "location": {"lng": lng, "lat": lat, "coord_type": "wgs84" if wgs84 else "gcj02"},
        "photo_ids": [await photo(api, pair)],
    }
    if project_id:
        body["project_id"] = project_id
    resp = await api.post("/mp/v1/complaints", json=body, headers=bearer(pair))
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert set(created) == {"id", "number", "status", "district_adcode", "station_id", "submitted_at", "deadline_at"}
    detail = await api.get(f"/mp/v1/complaints/{created['id']}", headers=bearer(pair))
    assert detail.status_code == 200 and detail.json()["number"] == created["number"]
    return pair, detail.json()
