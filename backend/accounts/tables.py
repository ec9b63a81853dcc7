"""Users, refresh tokens, WeChat bind codes and department API keys."""

from piccolo.columns import UUID, Array, Boolean, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.districts.tables import District
from backend.enterprises.tables import Enterprise


class User(Table, tablename="users"):
    """Anyone who signs in: by WeChat openid (mini-program) and/or by username + password (staff)."""

    id = UUID(primary_key=True)
    role = Varchar(length=20, index=True)
    display_name = Varchar(length=64, default="")
    openid = Varchar(length=64, unique=True, null=True, default=None)
    unionid = Varchar(length=64, null=True, default=None)
    username = Varchar(length=64, unique=True, null=True, default=None)
    password_hash = Varchar(length=255, null=True, default=None)
    phone = Varchar(length=32, default="")
    district = ForeignKey(references=District, null=True, on_delete=OnDelete.restrict)
    enterprise = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.restrict)
    is_active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)
    token_version = Integer(default=0)  # raised on disable / password reset / role change: ends every session
    disabled_at = Timestamptz(null=True, default=None)  # when disabled (staff retention counts from it)


class RefreshToken(Table, tablename="refresh_tokens"):
    """A rotating refresh token, stored as a SHA-256 hash; a family shares one login."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade)
    family = UUID(index=True)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class BindCode(Table, tablename="bind_codes"):
    """A one-time code that links a WeChat login to a pre-created staff / project-lead account."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade)
    code_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="api_keys"):
    """A scoped key for another department's system; only a SHA-256 hash of the secret is kept."""

    id = UUID(primary_key=True)
    name = Varchar(length=64)
    department = Varchar(length=64)
    prefix = Varchar(length=16, unique=True)
    key_hash = Varchar(length=64)
    scopes = Array(base_column=Varchar(length=64))
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
