"""Who is asking: roles (角色) and the Principal every service receives to authorise a call."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from backend.errors import Forbidden


class Role(StrEnum):
    CITIZEN = "citizen"  # 市民
    WORKER = "worker"  # 农民工
    PROJECT_LEAD = "project_lead"  # 项目负责人
    SUPERVISOR = "supervisor"  # 监理
    INSPECTOR = "inspector"  # 质监站监督员
    REGULATOR_ADMIN = "regulator_admin"  # 主管部门管理员


STAFF_ROLES = frozenset({Role.INSPECTOR, Role.REGULATOR_ADMIN})
ENTERPRISE_ROLES = frozenset({Role.PROJECT_LEAD, Role.SUPERVISOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user (from an access token) or a department's API key."""

    kind: str  # "user" | "api_key"
    id: UUID
    role: Role | None = None
    district_id: int | None = None
    enterprise_id: UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    token_version: int = 0  # users.token_version when the access token was issued

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_city_wide(self) -> bool:
        """A regulator admin without a district sees the whole city."""
        return self.role == Role.REGULATOR_ADMIN and self.district_id is None

    def has_role(self, *roles: Role) -> bool:
        return self.role is not None and self.role in roles

    def require_role(self, *roles: Role) -> None:
        if not self.has_role(*roles):
            raise Forbidden("FORBIDDEN_ROLE", detail={"allowed": [r.value for r in roles]})

    def can_see_district(self, district_id: int | None) -> bool:
        """Staff see their own district; a city-wide admin sees all."""
        if not self.is_staff:
            return False
        return self.is_city_wide or (district_id is not None and district_id == self.district_id)

    def require_district(self, district_id: int | None) -> None:
        if not self.can_see_district(district_id):
            raise Forbidden("FORBIDDEN_DISTRICT")

    def require_scope(self, scope: str) -> None:
        if self.kind != "api_key" or scope not in self.scopes:
            raise Forbidden("API_KEY_SCOPE", detail={"required": scope})
