"""Accounts (账号): users, WeChat bind codes and department API keys — the rules, no HTTP."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from asyncpg.exceptions import UniqueViolationError

from backend.access import policy as access_policy
from backend.access import scope as access_scope
from backend.accounts import sessions
from backend.accounts.refresh_tokens import revoke_all_refresh_tokens
from backend.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    BindCodeOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from backend.accounts.tables import ApiKey, BindCode, User
from backend.auth.passwords import check_password_policy, hash_password
from backend.auth.principal import ENTERPRISE_ROLES, STAFF_ROLES, Principal, Role
from backend.auth.tokens import new_secret, secret_hash
from backend.db import utcnow
from backend.districts import service as districts_service
from backend.enterprises import service as enterprises_service
from backend.errors import BadRequest, Conflict, NotFound, Unauthorized

# What other departments' systems may be granted (see docs/ARCHITECTURE.md, "API keys").
KNOWN_SCOPES = frozenset(
    {"enterprises:read", "projects:read", "credit:read", "complaints:read", "open311:write"}
)
_API_KEY_PREFIX = "zk"
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def mask_phone(phone: str) -> str:
    """138****1234 — never show a whole phone number in a list."""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(
        id=row["id"],
        role=Role(row["role"]),
        display_name=row["display_name"],
        username=row["username"],
        phone_masked=mask_phone(row["phone"]),
        district_adcode=row["district"],
        enterprise_id=row["enterprise"],
        wechat_bound=row["openid"] is not None,
        is_active=row["is_active"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


def principal_for(row: dict[str, Any]) -> Principal:
    """The principal an access token will carry for this user row."""
    return Principal(
        kind="user",
        id=row["id"],
        role=Role(row["role"]),
        district_id=row["district"],
        enterprise_id=row["enterprise"],
        name=row["display_name"],
        token_version=row.get("token_version") or 0,
    )


async def end_sessions(user_id: UUID) -> None:
    """Raise the user's token version: every access token issued before stops working at the next request."""
    await User.update({User.token_version: User.token_version + 1}).where(User.id == user_id)
    sessions.forget(user_id)  # this process at once; the others by NOTIFY at commit (backend/accounts/sessions.py)


async def get_user_row(user_id: UUID) -> dict[str, Any]:
    row = await User.select().where(User.id == user_id).first()
    if row is None:
        raise NotFound("USER_NOT_FOUND")
    return row


def _check_role_fields(role: Role, district: int | None, enterprise: UUID | None) -> None:
    if role in (Role.CITIZEN, Role.WORKER):
        raise BadRequest("ROLE_NOT_CREATABLE")
    if role == Role.INSPECTOR and district is None:
        raise BadRequest("ROLE_DISTRICT_REQUIRED")
    if role in ENTERPRISE_ROLES and enterprise is None:
        raise BadRequest("ROLE_ENTERPRISE_REQUIRED")


async def create_user(actor: Principal, data: UserCreate) -> UserOut:
    """A regulator admin creates a staff, supervisor or project-lead account."""
    district = data.district_adcode if data.role not in ENTERPRISE_ROLES else None
    enterprise = data.enterprise_id if data.role in ENTERPRISE_ROLES else None
    _check_role_fields(data.role, district, enterprise)
    await access_policy.check(actor, "manage_user", {"role": data.role.value, "district": district})
    if district is not None:
        await districts_service.require_known(district)
    if enterprise is not None:
        await enterprises_service.require_enterprise(enterprise)
    if data.role in STAFF_ROLES and not (data.username and data.password):
        raise BadRequest("CREDENTIALS_REQUIRED")
    if (data.username is None) != (data.password is None):
        raise BadRequest("CREDENTIALS_REQUIRED")
    password_hash = None
    if data.password is not None:
        check_password_policy(data.password)
        password_hash = hash_password(data.password)
    user = User(
        role=data.role.value,
        display_name=data.display_name,
        username=data.username.lower() if data.username else None,
        password_hash=password_hash,
        phone=data.phone,
        district=district,
        enterprise=enterprise,
    )
    try:
        await user.save()
    except UniqueViolationError as exc:
        raise Conflict("USERNAME_TAKEN") from exc
    return user_out(await get_user_row(user.id))


async def list_users(
    actor: Principal, *, role: Role | None, district: int | None, limit: int, offset: int
) -> tuple[int, list[UserOut]]:
    """Users the actor may manage, newest first."""
    access_policy.require(actor, "admin_of_district", {"district": actor.district_id if district is None else district})
    where = []
    if role is not None:
        where.append(User.role == role.value)
    if district is not None:
        where.append(User.district == district)
    where += access_scope.managed_users(actor, User)  # the rows access policy manage_user lets it manage
    query = User.select()
    count = User.count()
    for clause in where:
        query = query.where(clause)
        count = count.where(clause)
    rows = await query.order_by(User.created_at, ascending=False).limit(limit).offset(offset)
    return await count, [user_out(r) for r in rows]


async def get_user(actor: Principal, user_id: UUID) -> UserOut:
    row = await get_user_row(user_id)
    if row["id"] != actor.id:
        await access_policy.check(actor, "manage_user", row)
    return user_out(row)


async def update_user(actor: Principal, user_id: UUID, data: UserUpdate) -> UserOut:
    """Change a managed user's name, phone, password or active flag; disabling revokes their logins."""
    row = await get_user_row(user_id)
    await access_policy.check(actor, "manage_user", row)
    changes: dict[Any, Any] = {}
    if data.display_name is not None:
        changes[User.display_name] = data.display_name
    if data.phone is not None:
        changes[User.phone] = data.phone
    if data.password is not None:
        if row["username"] is None:
            raise BadRequest("CREDENTIALS_REQUIRED")
        check_password_policy(data.password)
        changes[User.password_hash] = hash_password(data.password)
    if data.is_active is not None:
        if not data.is_active and user_id == actor.id:
            raise BadRequest("CANNOT_DISABLE_SELF")
        changes[User.is_active] = data.is_active
        if data.is_active != row["is_active"]:  # the retention of a disabled staff account counts from this moment
            changes[User.disabled_at] = None if data.is_active else utcnow()
    if changes:
        async with User._meta.db.transaction():
            await User.update(changes).where(User.id == user_id)
            if data.is_active is False or data.password is not None:
                await revoke_all_refresh_tokens(user_id)
                await end_sessions(user_id)
    return user_out(await get_user_row(user_id))


async def issue_bind_code(actor: Principal, user_id: UUID, ttl_s: int) -> BindCodeOut:
    """A one-time code the user types into the mini-program to link their WeChat to this account."""
    row = await get_user_row(user_id)
    await access_policy.check(actor, "manage_user", row)
    code = new_secret(9)
    expires = utcnow() + timedelta(seconds=ttl_s)
    await BindCode.insert(BindCode(user=user_id, code_hash=secret_hash(code), expires_at=expires))
    return BindCodeOut(bind_code=code, expires_at=expires)


async def consume_bind_code(code: str, now: datetime) -> UUID:
    """Atomically use a bind code; returns the account it belongs to."""
    rows = (
        await BindCode.update({BindCode.used_at: now})
        .where(
            (BindCode.code_hash == secret_hash(code))
            & BindCode.used_at.is_null()
            & (BindCode.expires_at > now)
        )
        .returning(BindCode.user)
    )
    if not rows:
        raise BadRequest("BIND_CODE_INVALID")
    return rows[0]["user"]


# --- API keys for other departments -------------------------------------------------------------


def _api_key_out(row: dict[str, Any]) -> ApiKeyOut:
    return ApiKeyOut(
        id=row["id"],
        name=row["name"],
        department=row["department"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def create_api_key(actor: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    """Only a city-wide admin issues keys; the secret is shown once and stored hashed."""
    access_policy.require(actor, "city_admin", {})
    unknown = sorted(set(data.scopes) - KNOWN_SCOPES)
    if unknown:
        raise BadRequest("SCOPE_UNKNOWN", detail={"unknown": unknown, "known": sorted(KNOWN_SCOPES)})
    prefix = new_secret(6).replace("-", "a").replace("_", "b")[:8]
    key = f"{_API_KEY_PREFIX}_{prefix}_{new_secret(32)}"
    row = ApiKey(
        name=data.name,
        department=data.department,
        prefix=prefix,
        key_hash=secret_hash(key),
        scopes=sorted(set(data.scopes)),
        created_by=actor.id,
    )
    await row.save()
    saved = await ApiKey.select().where(ApiKey.id == row.id).first()
    return ApiKeyCreated(key=key, api_key=_api_key_out(saved))


async def list_api_keys(actor: Principal) -> list[ApiKeyOut]:
    access_policy.require(actor, "city_admin", {})
    rows = await ApiKey.select().order_by(ApiKey.created_at, ascending=False)
    return [_api_key_out(r) for r in rows]


async def revoke_api_key(actor: Principal, key_id: UUID) -> ApiKeyOut:
    access_policy.require(actor, "city_admin", {})
    rows = (
        await ApiKey.update({ApiKey.revoked_at: utcnow()})
        .where((ApiKey.id == key_id) & ApiKey.revoked_at.is_null())
        .returning(*ApiKey.all_columns())
    )
    if not rows:
        existing = await ApiKey.select().where(ApiKey.id == key_id).first()
        if existing is None:
            raise NotFound("API_KEY_NOT_FOUND")
        return _api_key_out(existing)
    return _api_key_out(rows[0])


async def authenticate_api_key(raw: str) -> Principal:
    """Resolve an X-API-Key header to a principal carrying the key's scopes."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != _API_KEY_PREFIX:
        raise Unauthorized("API_KEY_INVALID")
    row = await ApiKey.select().where(ApiKey.prefix == parts[1]).first()
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("API_KEY_INVALID")
    if not hmac.compare_digest(row["key_hash"], secret_hash(raw.strip())):
        raise Unauthorized("API_KEY_INVALID")
    now = utcnow()
    if row["last_used_at"] is None or now - row["last_used_at"] > _LAST_USED_GRANULARITY:
        await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == row["id"])
    return Principal(
        kind="api_key",
        id=row["id"],
        scopes=frozenset(row["scopes"]),
        name=f"{row['department']}/{row['name']}",
    )
