"""piccolo-admin (后台管理) for regulator admins, mounted at /admin by the credit controller.

Sign-in uses the staff password of our ``users`` table and admits only active regulator admins
(``ConsoleUser.login`` → ``staff_login``); the mirror row in ``console_users`` exists only for
piccolo-admin's sessions. Registries (districts, enterprises, projects and their parties) are editable;
credit and complaint tables are shown read-only, since their changes must go through the services
(state machines, audit, webhooks).
"""

from __future__ import annotations

import secrets
from typing import Any

from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_api.crud.validators import Validators
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
    if row["role"] != Role.REGULATOR_ADMIN.value or not row["is_active"]:
        return None
    superuser = row["district"] is None  # city-wide admins
    saved = await table.raw(
        "INSERT INTO console_users (username, password, first_name, last_name, email, active, admin, superuser)"
        " VALUES ({}, {}, {}, '', '', true, true, {})"
        " ON CONFLICT (username) DO UPDATE SET active = true, admin = true, superuser = EXCLUDED.superuser"
        " RETURNING id",
        name, "disabled:" + secrets.token_hex(16), row["display_name"][:255], superuser,
    )
    return saved[0]["id"]


def _read_only(*_: Any, **__: Any) -> None:
    raise HTTPException(status_code=405, detail="只读：请通过业务接口修改（状态机与审计）")


READ_ONLY = Validators(post_single=[_read_only], patch_single=[_read_only], put_single=[_read_only],
                       delete_single=[_read_only], delete_all=[_read_only])


def build_admin(production: bool) -> Any:
    """The piccolo-admin ASGI app."""
    editable = [District, Enterprise, Project, ProjectParty]
    shown = [CreditScore, CreditScoreHistory, CreditListing, CreditAppeal, CreditAudit, CreditEvent, Complaint, LabReport]
    return create_admin(
        [TableConfig(t, menu_group="登记") for t in editable]
        + [TableConfig(t, menu_group="信用与监管（只读）", validators=READ_ONLY) for t in shown],
        auth_table=ConsoleUser,
        session_table=ConsoleSession,
        site_name="质监后台",
        production=production,
        default_language_code="zh",
    )
