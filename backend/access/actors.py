"""The kinds of actor the policy speaks of, and the kinds a principal counts as."""

from __future__ import annotations

from backend.auth.principal import Principal, Role

ANONYMOUS = "anonymous"
CITIZEN = "citizen"
WORKER = "worker"
LEAD = "project_lead"
SUPERVISOR = "supervisor"
INSPECTOR = "inspector"
DISTRICT_ADMIN = "district_admin"
CITY_ADMIN = "city_admin"
KEY_PREFIX = "key:"  # a department API key counts as key:<scope> for each of its scopes
ANY_KEY = "key"  # … and as "key" (routes every key may call, e.g. who am I)

SCOPES = ("enterprises:read", "projects:read", "credit:read", "complaints:read", "open311:write")

USER_KINDS = (CITIZEN, WORKER, LEAD, SUPERVISOR, INSPECTOR, DISTRICT_ADMIN, CITY_ADMIN)
KEY_KINDS = tuple(KEY_PREFIX + s for s in SCOPES)
ALL_KINDS = (ANONYMOUS, *USER_KINDS, *KEY_KINDS)

# Words a regulator reads in docs/ACCESS.md.
WORDS = {
    ANONYMOUS: "anyone, without signing in",
    CITIZEN: "citizen 市民",
    WORKER: "worker 农民工",
    LEAD: "project lead 项目负责人 (of an enterprise party)",
    SUPERVISOR: "supervisor 监理 / lab user 检测员 (an enterprise user)",
    INSPECTOR: "inspector 质监站监督员 (of a district)",
    DISTRICT_ADMIN: "district regulator admin 区县管理员",
    CITY_ADMIN: "city regulator admin 市级管理员 (no district)",
    **{KEY_PREFIX + s: f"department API key with scope `{s}`" for s in SCOPES},
    ANY_KEY: "any department API key",
}


def kinds_of(principal: Principal | None) -> frozenset[str]:
    """Every kind the caller counts as (an API key counts once per scope it carries)."""
    if principal is None:
        return frozenset({ANONYMOUS})
    if principal.kind == "api_key":
        return frozenset(KEY_PREFIX + s for s in principal.scopes) | {ANY_KEY}
    if principal.role == Role.REGULATOR_ADMIN:
        return frozenset({CITY_ADMIN if principal.district_id is None else DISTRICT_ADMIN})
    return frozenset({principal.role.value}) if principal.role is not None else frozenset()
