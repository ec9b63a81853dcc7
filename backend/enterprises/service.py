"""Enterprises (企业): registry keyed by the unified social credit code (GB 32100)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from asyncpg.exceptions import UniqueViolationError
from stdnum.cn import uscc as uscc_std
from stdnum.exceptions import ValidationError

from backend.access import policy as access_policy
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.districts import service as districts_service
from backend.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseKind,
    EnterpriseOut,
    EnterprisePublic,
    EnterpriseUpdate,
)
from backend.enterprises.tables import Enterprise
from backend.errors import BadRequest, Conflict, NotFound

# GB 32100 appendix A: registration authority codes (first character); the category is 1–9.
_REGISTRATION_AUTHORITIES = frozenset("123456789ANY")


def normalize_uscc(value: str) -> str:
    """Validate a unified social credit code: length, alphabet, authority, category, check character."""
    try:
        code = uscc_std.validate(value)
    except ValidationError as exc:
        raise BadRequest("USCC_INVALID", detail={"reason": type(exc).__name__}) from exc
    if code[0] not in _REGISTRATION_AUTHORITIES or code[1] not in "123456789" or code[2:8] == "000000":
        raise BadRequest("USCC_INVALID", detail={"reason": "InvalidComponent"})
    return code


def _out(row: dict[str, Any]) -> EnterpriseOut:
    return EnterpriseOut(
        id=row["id"],
        uscc=row["uscc"],
        name=row["name"],
        kinds=[EnterpriseKind(k) for k in row["kinds"]],
        legal_representative=row["legal_representative"],
        address=row["address"],
        phone=row["phone"],
        district_adcode=row["district"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _row(enterprise_id: UUID) -> dict[str, Any]:
    row = await Enterprise.select().where(Enterprise.id == enterprise_id).first()
    if row is None:
        raise NotFound("ENTERPRISE_NOT_FOUND")
    return row


async def require_enterprise(enterprise_id: UUID) -> dict[str, Any]:
    return await _row(enterprise_id)


async def kinds_of(enterprise_ids: list[UUID]) -> dict[UUID, set[str]]:
    """Kinds per enterprise, for role checks by other domains."""
    if not enterprise_ids:
        return {}
    rows = await Enterprise.select(Enterprise.id, Enterprise.kinds).where(Enterprise.id.is_in(enterprise_ids))
    return {r["id"]: set(r["kinds"]) for r in rows}




async def create_enterprise(actor: Principal, data: EnterpriseCreate) -> EnterpriseOut:
    access_policy.require(actor, "regulator_admin", {})
    code = normalize_uscc(data.uscc)
    if data.district_adcode is not None:
        await districts_service.require_known(data.district_adcode)
    row = Enterprise(
        uscc=code,
        name=data.name.strip(),
        kinds=sorted({k.value for k in data.kinds}),
        legal_representative=data.legal_representative,
        address=data.address,
        phone=data.phone,
        district=data.district_adcode,
    )
    try:
        await row.save()
    except UniqueViolationError as exc:
        raise Conflict("USCC_DUPLICATE") from exc
    return _out(await _row(row.id))


async def update_enterprise(actor: Principal, enterprise_id: UUID, data: EnterpriseUpdate) -> EnterpriseOut:
    access_policy.require(actor, "regulator_admin", {})
    await _row(enterprise_id)
    changes: dict[Any, Any] = {
        col: value
        for col, value in (
            (Enterprise.name, data.name.strip() if data.name else None),
            (Enterprise.kinds, sorted({k.value for k in data.kinds}) if data.kinds else None),
            (Enterprise.legal_representative, data.legal_representative),
            (Enterprise.address, data.address),
            (Enterprise.phone, data.phone),
        )
        if value is not None
    }
    if changes:
        changes[Enterprise.updated_at] = utcnow()
        await Enterprise.update(changes).where(Enterprise.id == enterprise_id)
    return _out(await _row(enterprise_id))


async def get_enterprise(actor: Principal, enterprise_id: UUID) -> EnterpriseOut:
    access_policy.require(actor, "read_enterprise", {"id": enterprise_id})
    return _out(await _row(enterprise_id))


async def list_enterprises(
    actor: Principal, *, kind: EnterpriseKind | None, q: str | None, limit: int, offset: int
) -> tuple[int, list[EnterpriseOut]]:
    access_policy.require(actor, "read_enterprise", {"id": None})
    query = Enterprise.select()
    count = Enterprise.count()
    clauses = []
    if kind is not None:
        clauses.append(Enterprise.kinds.any(kind.value))
    if q:
        needle = q.strip()
        clauses.append(Enterprise.name.ilike(f"%{needle}%") | (Enterprise.uscc == needle.upper()))
    for clause in clauses:
        query = query.where(clause)
        count = count.where(clause)
    rows = await query.order_by(Enterprise.name).limit(limit).offset(offset)
    return await count, [_out(r) for r in rows]


async def public_by_uscc(actor: Principal, code: str) -> EnterprisePublic:
    """Another department's lookup by credit code (scope enterprises:read)."""
    access_policy.require(actor, "key_scope", {"scope": "enterprises:read"})
    normalized = normalize_uscc(code)
    row = await Enterprise.select().where(Enterprise.uscc == normalized).first()
    if row is None:
        raise NotFound("ENTERPRISE_NOT_FOUND")
    return EnterprisePublic(
        uscc=row["uscc"], name=row["name"], kinds=[EnterpriseKind(k) for k in row["kinds"]], district_adcode=row["district"]
    )
