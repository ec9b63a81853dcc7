"""Dispatch (分派): which district, station and inspector a complaint goes to."""

from __future__ import annotations

import time
from uuid import UUID

from backend.accounts.tables import User
from backend.auth.principal import Role
from backend.complaints.rules import OPEN
from backend.complaints.tables import Complaint, Duty
from backend.districts import service as districts_service
from backend.districts.tables import District, Station


async def pick_inspector(district: int, exclude: UUID | None = None, lock: bool = False) -> UUID | None:
    """The on-duty, active inspector of the district with the fewest open cases (ties: oldest account).

    ``lock`` takes the district's transaction-scoped advisory lock in the same statement, so that
    concurrent dispatches in one district count each other's cases. The counts sit in the select list,
    evaluated per joined row, hence after the lock row exists.
    """
    rows = await User.raw(
        "WITH l AS MATERIALIZED (SELECT CASE WHEN {} THEN pg_advisory_xact_lock({}) END AS locked)"
        " SELECT u.id, (SELECT count(*) FROM complaints c WHERE c.assignee = u.id AND c.status = ANY({})) AS open_cases"
        " FROM l, users u LEFT JOIN inspector_duty d ON d.user = u.id"
        " WHERE u.role = {} AND u.district = {} AND u.is_active AND COALESCE(d.on_duty, true)"
        " ORDER BY open_cases, u.created_at, u.id",
        lock, district, [s.value for s in OPEN], Role.INSPECTOR.value, district,
    )
    for row in rows:
        if row["id"] != exclude:
            return row["id"]
    return None


_CACHE_S = 60.0
_stations: dict[int, int | None] = {}
_names: dict[int, str] = {}
_cached_at = 0.0


async def _refresh() -> None:
    global _cached_at
    if time.monotonic() - _cached_at < _CACHE_S:
        return
    _stations.clear()
    _stations.update({r["district"]: r["id"] for r in await Station.select(Station.id, Station.district)})
    _names.clear()
    _names.update({r["adcode"]: r["name"] for r in await District.select(District.adcode, District.name)})
    _cached_at = time.monotonic()


async def district_for(lng: float, lat: float, project_district: int | None) -> tuple[int | None, str]:
    """A named project's district wins over the point; None: outside every district (city queue)."""
    if project_district is not None:
        return project_district, "项目所在辖区"
    return await districts_service.locate_adcode(lng, lat), "位置所在辖区"


async def station_of(district: int | None) -> int | None:
    if district is None:
        return None
    await _refresh()
    return _stations.get(district)


async def reason(district: int | None, why: str, assignee: UUID | None) -> str:
    """The audited reason of an automatic dispatch, in words."""
    if district is None:
        return "位置不在任何辖区内，进入市级队列"
    await _refresh()
    tail = "，分派给当班案件最少的监督员" if assignee else "，暂无当班监督员，进入监督站队列"
    return f"{why}：{_names.get(district, district)}{tail}"


async def station_chiefs(district: int | None) -> list[UUID]:
    """Who is warned and escalated to: the district's regulator admins, else the city-wide ones."""
    if district is not None:
        rows = await User.select(User.id).where(
            (User.role == Role.REGULATOR_ADMIN.value) & (User.district == district) & User.is_active.eq(True)
        )
        if rows:
            return [r["id"] for r in rows]
    rows = await User.select(User.id).where(
        (User.role == Role.REGULATOR_ADMIN.value) & User.district.is_null() & User.is_active.eq(True)
    )
    return [r["id"] for r in rows]


async def open_cases(user_id: UUID) -> int:
    return await Complaint.count().where((Complaint.assignee == user_id) & Complaint.status.is_in([s.value for s in OPEN]))


async def set_duty(user_id: UUID, on_duty: bool) -> None:
    await Duty.raw(
        "INSERT INTO inspector_duty (\"user\", on_duty, updated_at) VALUES ({}, {}, now())"
        " ON CONFLICT (\"user\") DO UPDATE SET on_duty = EXCLUDED.on_duty, updated_at = now()",
        user_id, on_duty,
    )
