"""piccolo-admin (后台管理) for city regulator admins only, mounted at /admin by the credit controller.

Sign-in uses the staff password of our ``users`` table and admits only active regulator admins
(``ConsoleUser.login`` → ``staff_login``); the mirror row in ``console_users`` exists only for
piccolo-admin's sessions. Registries (districts, enterprises, projects and their parties) are editable;
credit and complaint tables are shown read-only, since their changes must go through the services
(state machines, audit, webhooks).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from stdnum.cn import uscc as uscc_std
from starlette.exceptions import HTTPException

from backend.accounts.tables import User
from backend.auth.passwords import verify_password
from backend.auth.principal import Role
from backend.complaints.tables import Complaint
from backend.credit.tables import (
    ConsoleSession,
    ConsoleUser,
    CreditAppeal,
    CreditAudit,
    CreditListing,
    CreditScore,
    CreditScoreHistory,
)
from backend.districts.tables import District
from backend.enterprises.tables import Enterprise
from backend.materials.tables import CreditEvent, LabReport
from backend.projects.tables import Project, ProjectParty


async def staff_login(table: type[ConsoleUser], username: str, password: str) -> int | None:
    """The console user's id for an active regulator admin with the right password, else None."""
    name = username.strip().lower()
    row = await User.select().where(User.username == name).first()
    if not verify_password(row["password_hash"] if row else None, password):
        return None
    if row["role"] != Role.REGULATOR_ADMIN.value or not row["is_active"] or row["district"] is not None:
        return None  # city admins only (docs/ACCESS.md): a district admin must not edit other districts' registries
    superuser = True
    # piccolo-admin's e-mail column is unique and required: a placeholder of the sign-in name (RFC 2606 .invalid),
    # so that a second admin's mirror does not collide with the first one's empty e-mail.
    saved = await table.raw(
        "INSERT INTO console_users (username, password, first_name, last_name, email, active, admin, superuser)"
        " VALUES ({}, {}, {}, '', {}, true, true, {})"
        " ON CONFLICT (username) DO UPDATE SET active = true, admin = true, superuser = EXCLUDED.superuser,"
        " email = EXCLUDED.email RETURNING id",
        name, "disabled:" + secrets.token_hex(16), row["display_name"][:255], f"{name}@console.invalid", superuser,
    )
    return saved[0]["id"]


def _read_only(*_: Any, **__: Any) -> None:
    raise HTTPException(status_code=405, detail="只读：请通过业务接口修改（状态机与审计）")


READ_ONLY = Validators(post_single=[_read_only], patch_single=[_read_only], put_single=[_read_only],
                       delete_single=[_read_only], delete_all=[_read_only])


def _who(request: Any) -> str:
    user = getattr(getattr(request, "user", None), "user", None)
    return str(getattr(user, "username", "") or "")


def _jsonable(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    return {str(getattr(k, "_meta", None) and k._meta.name or k): (v if isinstance(v, int | float | bool | None) else str(v))
            for k, v in values.items()}


async def _audit(request: Any, table: str, action: str, row_id: Any, values: dict[str, Any]) -> None:
    """Every change made in piccolo-admin, in credit_audit (read by city admins at GET /api/v1/credit/audit)."""
    await CreditAudit.insert(CreditAudit(
        actor_kind="user", actor_name=_who(request)[:128], action=f"admin.{action}.{table}"[:48],
        detail=json.dumps({"row": str(row_id) if row_id is not None else None, "values": values}, ensure_ascii=False),
    ))


def _validate(values: dict[str, Any]) -> None:
    """The rules the business API applies, for the fields piccolo-admin can change."""
    if "uscc" in values:
        code = str(values["uscc"] or "").strip().upper()
        if not uscc_std.is_valid(code):
            raise HTTPException(status_code=400, detail="统一社会信用代码无效（GB 32100）")
        values["uscc"] = code
    if "kinds" in values and not values["kinds"]:
        raise HTTPException(status_code=400, detail="企业类型不能为空")


def _hooks(table: str) -> list[Hook]:
    async def pre_save(row: Any, request: Any = None) -> Any:
        values = {c._meta.name: getattr(row, c._meta.name) for c in row._meta.columns}
        _validate(values)
        if "uscc" in values:
            row.uscc = values["uscc"]
        await _audit(request, table, "create", values.get("id"), _jsonable(values))
        return row

    async def pre_patch(row_id: Any, values: dict[str, Any], request: Any = None) -> dict[str, Any]:
        _validate(values)
        await _audit(request, table, "patch", row_id, _jsonable(values))
        return values

    async def pre_delete(row_id: Any, request: Any = None) -> None:
        await _audit(request, table, "delete", row_id, {})

    return [Hook(HookType.pre_save, pre_save), Hook(HookType.pre_patch, pre_patch), Hook(HookType.pre_delete, pre_delete)]


def build_admin(production: bool) -> Any:
    """The piccolo-admin ASGI app: city admins only; registry edits validated and audited."""
    editable = [District, Enterprise, Project, ProjectParty]
    shown = [CreditScore, CreditScoreHistory, CreditListing, CreditAppeal, CreditAudit, CreditEvent, Complaint, LabReport]
    return create_admin(
        [TableConfig(t, menu_group="登记", hooks=_hooks(t._meta.tablename)) for t in editable]
        + [TableConfig(t, menu_group="信用与监管（只读）", validators=READ_ONLY) for t in shown],
        auth_table=ConsoleUser,
        session_table=ConsoleSession,
        site_name="质监后台",
        production=production,
        default_language_code="zh",
    )
