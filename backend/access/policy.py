"""Answers from the one policy: may this actor call this route; may this actor do this action on this resource."""

from __future__ import annotations

from backend.access import relations
from backend.access.actors import KEY_PREFIX, kinds_of
from backend.access.routes import ROUTES, UNDOCUMENTED_PUBLIC_PREFIXES, R
from backend.auth.principal import Principal, Role
from backend.errors import Forbidden


def route_key(method: str, path_template: str) -> str:
    """The table key of a route: ``"GET /api/v1/users/{user_id}"``."""
    return f"{method.upper()} {path_template}"


def rule_for(method: str, path_template: str) -> R | None:
    return ROUTES.get(route_key(method, path_template))


def may_call(principal: Principal | None, method: str, path_template: str) -> bool:
    """Whether the table lets this caller reach the route at all (the service then checks the relation)."""
    rule = rule_for(method, path_template)
    if rule is None:
        return path_template.startswith(UNDOCUMENTED_PUBLIC_PREFIXES)
    return bool(kinds_of(principal) & rule.who)


def require_route(principal: Principal | None, method: str, path_template: str) -> None:
    """Raise 403 unless the table lets this caller reach the route; an undeclared route is refused to all."""
    if may_call(principal, method, path_template):
        return
    if rule_for(method, path_template) is None:
        raise Forbidden("ROUTE_UNDECLARED", detail={"route": route_key(method, path_template)})
    rule = rule_for(method, path_template)
    if rule is not None and all(k.startswith(KEY_PREFIX) for k in rule.who):
        raise Forbidden("API_KEY_SCOPE", detail={"route": route_key(method, path_template),
                                                 "required": sorted(k[len(KEY_PREFIX):] for k in rule.who)})
    raise Forbidden("FORBIDDEN_ROLE", detail={"route": route_key(method, path_template)})


# --- resource actions: services ask check(actor, action, resource) -------------------------------------------

async def _read_worker_pii(actor: Principal, worker: dict) -> str | None:
    if actor.is_city_wide:
        return None
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None and \
            actor.enterprise_id in await relations.current_employers_and_gcs(worker["id"]):
        return None
    return "PII_NOT_EMPLOYER"


async def _export_unmasked(actor: Principal, project: dict) -> str | None:
    if actor.is_city_wide or await relations.is_gc_lead_of(actor, project["id"]):
        return None
    return "PII_NOT_EMPLOYER"


async def _manage_user(actor: Principal, target: dict) -> str | None:
    """target: {"role", "district"} of the account created or changed."""
    if not actor.has_role(Role.REGULATOR_ADMIN):
        return "FORBIDDEN_ROLE"
    if actor.is_city_wide or relations.district_admin_manages(actor, str(target["role"]), target["district"]):
        return None
    return "FORBIDDEN_DISTRICT"


async def _file_lab_report(actor: Principal, sampling: dict) -> str | None:
    """sampling: {"lab_ids"} named by the batch's witnessed samplings (empty: not sampled yet)."""
    if not sampling["lab_ids"]:
        return "NOT_SAMPLED_YET"
    if not relations.is_lab_of_sampling(actor, sampling["lab_ids"]):
        return "NOT_SAMPLING_LAB"
    return None


ACTIONS = {
    "read_worker_pii": _read_worker_pii,
    "export_unmasked": _export_unmasked,
    "manage_user": _manage_user,
    "file_lab_report": _file_lab_report,
}


async def allows(actor: Principal, action: str, resource: dict) -> bool:
    """Whether the policy lets the actor do the action on the resource (for choosing masked/unmasked views)."""
    return await ACTIONS[action](actor, resource) is None


async def check(actor: Principal, action: str, resource: dict) -> None:
    """Raise 403 with the policy's reason unless the actor may do the action on the resource."""
    reason = await ACTIONS[action](actor, resource)
    if reason is not None:
        raise Forbidden(reason, detail={"action": action})


# --- rules that need no database: require(actor, action, resource) -------------------------------------------

def _complaint_in_staff_scope(actor: Principal, row: dict) -> str | None:
    """Staff of the complaint's district; the city queue (no district) is the city admins'."""
    if not actor.is_staff:
        return "FORBIDDEN_ROLE"
    if row["district"] is None:
        return None if actor.is_city_wide else "FORBIDDEN_DISTRICT"
    return None if actor.can_see_district(row["district"]) else "FORBIDDEN_DISTRICT"


def _act_on_complaint(actor: Principal, row: dict) -> str | None:
    """Staff of its district; an inspector only while the case is unassigned or theirs."""
    reason = _complaint_in_staff_scope(actor, row)
    if reason is None and actor.has_role(Role.INSPECTOR) and row["assignee"] not in (None, actor.id):
        return "NOT_ASSIGNEE"
    return reason


def _own_complaint(actor: Principal, row: dict) -> str | None:
    return None if row["citizen"] == actor.id else "FORBIDDEN_OWNER"


def _read_enterprise(actor: Principal, enterprise: dict) -> str | None:
    """Staff read every enterprise; an enterprise user only its own."""
    if actor.is_staff:
        return None
    if actor.role in (Role.PROJECT_LEAD, Role.SUPERVISOR) and enterprise.get("id") is not None \
            and actor.enterprise_id == enterprise["id"]:
        return None
    return "FORBIDDEN_ROLE"


def _key_scope(actor: Principal, resource: dict) -> str | None:
    return None if actor.kind == "api_key" and resource["scope"] in actor.scopes else "API_KEY_SCOPE"


RULES = {
    "staff_read_complaint": _complaint_in_staff_scope,
    "act_on_complaint": _act_on_complaint,
    "own_complaint": _own_complaint,
    "read_enterprise": _read_enterprise,
    "key_scope": _key_scope,
}


def permits(actor: Principal, action: str, resource: dict) -> bool:
    """Whether a database-free rule lets the actor do the action on the resource."""
    return RULES[action](actor, resource) is None


def require(actor: Principal, action: str, resource: dict) -> None:
    """Raise 403 with the rule's reason unless a database-free rule lets the actor do the action."""
    reason = RULES[action](actor, resource)
    if reason is not None:
        raise Forbidden(reason, detail={"action": action})
