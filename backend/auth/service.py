"""Sign-in flows: staff password, WeChat mini-program code, binding, refresh and logout."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from redis.asyncio import Redis

from backend import ratelimit
from backend.accounts import refresh_tokens
from backend.accounts.schemas import TokenPair
from backend.accounts.service import consume_bind_code, end_sessions, get_user_row, principal_for, user_out
from backend.accounts.tables import User
from backend.auth.passwords import verify_password
from backend.auth.principal import Role
from backend.auth.tokens import issue_access_token
from backend.clients.wechat import WeChatClient, WeChatError
from backend.db import utcnow
from backend.errors import AppError, Conflict, Forbidden, TooManyRequests, Unauthorized, UpstreamError
from backend.notifications import service as notifications_service
from backend.settings import Settings

_LOGIN_WINDOW_S = 900
_LOGIN_FAILURES_PER_USER = 10
_LOGIN_ATTEMPTS_PER_IP = 100


async def issue_tokens(settings: Settings, row: dict[str, Any], now: datetime, family: Any = None) -> TokenPair:
    """Access + refresh token pair for an active user row."""
    access, expires = issue_access_token(settings, principal_for(row), now)
    refresh = await refresh_tokens.issue_refresh_token(row["id"], now, settings.REFRESH_TOKEN_TTL_S, family)
    return _pair(settings, row, access, expires, refresh, now)


def _pair(settings: Settings, row: dict[str, Any], access: str, expires: datetime, refresh: str, now: datetime) -> TokenPair:
    return TokenPair(
        access_token=access,
        token_type="Bearer",
        expires_in=int((expires - now).total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=settings.REFRESH_TOKEN_TTL_S,
        user=user_out(row),
    )


def _require_active(row: dict[str, Any]) -> None:
    if not row["is_active"]:
        raise Forbidden("ACCOUNT_DISABLED")


async def _touch_login(user_id: Any, now: datetime) -> dict[str, Any]:
    await User.update({User.last_login_at: now}).where(User.id == user_id)
    return await get_user_row(user_id)


async def login_password(
    settings: Settings, redis: Redis, username: str, password: str, client_ip: str
) -> TokenPair:
    """Staff sign-in; failures are throttled per username and per address."""
    name = username.strip().lower()
    await ratelimit.hit(redis, f"login:ip:{client_ip}", _LOGIN_ATTEMPTS_PER_IP, _LOGIN_WINDOW_S)
    failures_key = f"login:fail:{name}"
    failures = await redis.get(f"rl:{failures_key}")
    if failures is not None and int(failures) >= _LOGIN_FAILURES_PER_USER:
        raise TooManyRequests("RATE_LIMITED", detail={"retry_after_s": max(await redis.ttl(f"rl:{failures_key}"), 1)})
    row = await User.select().where(User.username == name).first()
    if not verify_password(row["password_hash"] if row else None, password):
        await ratelimit.hit(redis, failures_key, _LOGIN_FAILURES_PER_USER + 1, _LOGIN_WINDOW_S)
        raise Unauthorized("BAD_CREDENTIALS")
    _require_active(row)
    await ratelimit.reset(redis, failures_key)
    now = utcnow()
    return await issue_tokens(settings, await _touch_login(row["id"], now), now)


_WECHAT_LOGIN_ERRORS: dict[int, tuple[str, int]] = {
    40029: ("WECHAT_CODE_INVALID", 400),
    40163: ("WECHAT_CODE_INVALID", 400),
    45011: ("WECHAT_RATE_LIMITED", 429),
    40226: ("WECHAT_USER_BLOCKED", 403),
    -1: ("WECHAT_BUSY", 503),
}


def wechat_login_error(err: WeChatError) -> AppError:
    """Map a WeChat errcode to our stable code and a status the client can act on."""
    code, status = _WECHAT_LOGIN_ERRORS.get(err.errcode, ("WECHAT_ERROR", 502))
    return UpstreamError(code, status_code=status, detail={"errcode": err.errcode})


async def _openid_for(wechat: WeChatClient, code: str) -> tuple[str, str | None]:
    try:
        session = await wechat.code_to_session(code)
    except WeChatError as err:
        raise wechat_login_error(err) from err
    return session.openid, session.unionid


async def login_wechat(settings: Settings, wechat: WeChatClient, code: str) -> TokenPair:
    """Mini-program sign-in by wx.login code; a new openid becomes a citizen account."""
    openid, unionid = await _openid_for(wechat, code)
    row = await User.select().where(User.openid == openid).first()
    if row is None:
        try:
            await User.insert(User(role=Role.CITIZEN.value, display_name="微信用户", openid=openid, unionid=unionid))
        except UniqueViolationError:
            pass  # a concurrent first login created it
        row = await User.select().where(User.openid == openid).first()
    _require_active(row)
    await notifications_service.clear_invalid_binding(row["id"])
    now = utcnow()
    return await issue_tokens(settings, await _touch_login(row["id"], now), now)


async def bind_wechat(settings: Settings, wechat: WeChatClient, code: str, bind_code: str) -> TokenPair:
    """Link this WeChat user to a pre-created account (project lead, supervisor, staff) by a bind code.

    If the openid already signed in as a plain citizen, that citizen account keeps its records but
    loses the openid (it is deactivated); an openid bound to any other account is refused.
    """
    openid, unionid = await _openid_for(wechat, code)
    now = utcnow()
    async with User._meta.db.transaction():
        target_id = await consume_bind_code(bind_code, now)
        target = await get_user_row(target_id)
        _require_active(target)
        if target["openid"] not in (None, openid):
            raise Conflict("ALREADY_BOUND")
        current = await User.select().where(User.openid == openid).first()
        if current is not None and current["id"] != target_id:
            if current["role"] != Role.CITIZEN.value:
                raise Conflict("ALREADY_BOUND")
            await User.update({User.openid: None, User.is_active: False}).where(User.id == current["id"])
            await refresh_tokens.revoke_all_refresh_tokens(current["id"], now)
            await end_sessions(current["id"])
        await User.update({User.openid: openid, User.unionid: unionid}).where(User.id == target_id)
    return await issue_tokens(settings, await _touch_login(target_id, now), now)


async def refresh(settings: Settings, token: str) -> TokenPair:
    """Rotate a refresh token into a new pair; disabled accounts cannot refresh."""
    now = utcnow()
    user_id, new_refresh = await refresh_tokens.rotate_refresh_token(token, now, settings.REFRESH_TOKEN_TTL_S)
    row = await get_user_row(user_id)
    if not row["is_active"]:
        await refresh_tokens.revoke_all_refresh_tokens(user_id, now)
        raise Forbidden("ACCOUNT_DISABLED")
    access, expires = issue_access_token(settings, principal_for(row), now)
    return _pair(settings, row, access, expires, new_refresh, now)


async def logout(token: str) -> None:
    await refresh_tokens.revoke_refresh_token(token, utcnow())
