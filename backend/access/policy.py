"""Answers from the one policy: may this actor call this route; may this actor do this action on this resource."""

from __future__ import annotations

from typing import Any

from backend.access import relations
from backend.access.actors import KEY_PREFIX, kinds_of
from backend.access.routes import ROUTES, UNDOCUMENTED_PUBLIC_PREFIXES, R
from backend.auth.principal import ENTERPRISE_ROLES, Principal, Role
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
#
# A rule returns None (allowed) or the refusal: an error code, or (code, detail). WORDS says each rule in the
# words docs/ACCESS.md prints; tests/access/test_docs.py fails when an action has none.

Reason = str | tuple[str, dict[str, Any]] | None

_STAFF = (Role.INSPECTOR, Role.REGULATOR_ADMIN)


def _allowed(*roles: Role) -> tuple[str, dict[str, Any]]:
    return "FORBIDDEN_ROLE", {"allowed": [r.value for r in roles]}


def _out_of_scope(actor: Principal) -> str:
    """Outside the caller's reach: another district for staff, another's project for everyone else."""
    return "FORBIDDEN_DISTRICT" if actor.is_staff else "FORBIDDEN_OWNER"


async def _read_worker_pii(actor: Principal, worker: dict) -> Reason:
    if actor.is_city_wide:
        return None
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None and \
            actor.enterprise_id in await relations.current_employers_and_gcs(worker["id"]):
        return None
    return "PII_NOT_EMPLOYER"


async def _export_unmasked(actor: Principal, project: dict) -> Reason:
    if actor.is_city_wide or await relations.is_gc_lead_of(actor, project["id"]):
        return None
    return "PII_NOT_EMPLOYER"


async def _export_roster(actor: Principal, project: dict) -> Reason:
    """Staff of the project's district, or a lead of its general contractor (masked unless export_unmasked)."""
    if actor.is_staff:
        return _station(actor, project)
    return None if await relations.is_gc_lead_of(actor, project["id"]) else "FORBIDDEN_OWNER"


async def _manage_user(actor: Principal, target: dict) -> Reason:
    """target: {"role", "district"} of the account created or changed."""
    if not actor.has_role(Role.REGULATOR_ADMIN):
        return "FORBIDDEN_ROLE"
    if actor.is_city_wide or relations.district_admin_manages(actor, str(target["role"]), target["district"]):
        return None
    return "FORBIDDEN_DISTRICT"


async def _file_lab_report(actor: Principal, sampling: dict) -> Reason:
    """sampling: {"lab_ids"} named by the batch's witnessed samplings (empty: not sampled yet)."""
    if not sampling["lab_ids"]:
        return "NOT_SAMPLED_YET"
    if not relations.is_lab_of_sampling(actor, sampling["lab_ids"]):
        return "NOT_SAMPLING_LAB"
    return None


async def _act_as_lab(actor: Principal, _resource: dict) -> Reason:
    """A user of an enterprise that is a testing lab (检测机构)."""
    if actor.kind != "user" or actor.enterprise_id is None:
        return "NOT_A_LAB"
    return None if "testing_lab" in await relations.enterprise_kinds(actor.enterprise_id) else "NOT_A_LAB"


async def _read_project(actor: Principal, project: dict) -> Reason:
    return None if await relations.reads_project(actor, project) else _out_of_scope(actor)


async def _read_holds(actor: Principal, project: dict) -> Reason:
    """A project's quality holds: staff of its district, its leads, and the people of every party enterprise."""
    if actor.is_staff:
        return _station(actor, project)
    if await relations.reads_project(actor, project) or await relations.is_party_of(actor.enterprise_id, project["id"]):
        return None
    return "FORBIDDEN_OWNER"


async def _project_complaints(actor: Principal, project: dict) -> Reason:
    """The cases about a site, without the citizen: its leads and its parties' supervisors (not staff: they read
    the full case in their district's queue)."""
    if actor.is_staff:
        return "FORBIDDEN_ROLE"
    return None if await relations.reads_project(actor, project) else "FORBIDDEN_OWNER"


async def _inspect_material_entry(actor: Principal, project: dict) -> Reason:
    """进场验收: a reader of the project who is staff, its supervisor or its lead."""
    reason = await _read_project(actor, project)
    if reason is None and not actor.is_staff and not actor.has_role(Role.SUPERVISOR, Role.PROJECT_LEAD):
        return _allowed(Role.SUPERVISOR, Role.PROJECT_LEAD)
    return reason


async def _witness_material(actor: Principal, project: dict) -> Reason:
    """见证取样 / 退场: a reader of the project who is staff or a supervisor."""
    reason = await _read_project(actor, project)
    if reason is None and not actor.is_staff and not actor.has_role(Role.SUPERVISOR):
        return _allowed(Role.SUPERVISOR)
    return reason


async def _decide_material_use(actor: Principal, project: dict) -> Reason:
    """A supervisor user of an enterprise that is the project's supervision party (监理)."""
    reason = await _read_project(actor, project)
    if reason is not None:
        return reason
    if actor.kind != "user" or not actor.has_role(Role.SUPERVISOR) or actor.enterprise_id is None:
        return _allowed(Role.SUPERVISOR)
    if not await relations.is_party_of(actor.enterprise_id, project["id"], "supervision"):
        return "NOT_PROJECT_SUPERVISOR"
    return None


async def _manage_camera(actor: Principal, project: dict) -> Reason:
    """Staff of the project's district, or one of the project's leads."""
    if not actor.has_role(*_STAFF, Role.PROJECT_LEAD):
        return _allowed(*_STAFF, Role.PROJECT_LEAD)
    if actor.is_staff:
        return _station(actor, project)
    return None if await relations.reads_project(actor, project) else "FORBIDDEN_OWNER"


async def _read_camera(actor: Principal, project: dict) -> Reason:
    """Staff of the project's district, its leads, supervisors whose enterprise is a party."""
    if not actor.has_role(*_STAFF, Role.PROJECT_LEAD, Role.SUPERVISOR):
        return _allowed(*_STAFF, Role.PROJECT_LEAD, Role.SUPERVISOR)
    if actor.is_staff:
        return _station(actor, project)
    return None if await relations.reads_project(actor, project) else "FORBIDDEN_OWNER"


async def _read_monitoring(actor: Principal, project: dict) -> Reason:
    """A reader of the project, or the safety director named on one of its dangerous works."""
    if await relations.reads_project(actor, project):
        return None
    if not actor.is_staff and await relations.is_safety_director_of(actor, project["id"]):
        return None
    return _out_of_scope(actor)


async def _manage_monitoring(actor: Principal, project: dict) -> Reason:
    """Staff of the project's district, or one of the project's leads."""
    if actor.is_staff:
        return _station(actor, project)
    if not actor.has_role(Role.PROJECT_LEAD):
        return _allowed(Role.PROJECT_LEAD, *_STAFF)
    return None if await relations.is_lead_of(actor, project["id"]) else "FORBIDDEN_OWNER"


async def _handle_alarm(actor: Principal, project: dict) -> Reason:
    """Acknowledge / comment / clear: a person who reads the project's monitoring (not a key)."""
    reason = await _read_monitoring(actor, project)
    if reason is None and actor.kind != "user":
        return "FORBIDDEN_ROLE"
    return reason


async def _supervise_monitoring(actor: Principal, project: dict) -> Reason:
    """The supervising side: staff of the project's district, or a supervisor whose enterprise is a party."""
    if actor.is_staff:
        return _station(actor, project)
    if actor.has_role(Role.SUPERVISOR) and await relations.reads_project(actor, project):
        return None
    return _allowed(Role.SUPERVISOR, *_STAFF)


async def _approve_plan(actor: Principal, project: dict) -> Reason:
    """专项方案 approval: staff of the project's district, or a supervisor whose enterprise is a party."""
    if actor.is_staff:
        return _station(actor, project)
    if not actor.has_role(Role.SUPERVISOR):
        return _allowed(Role.SUPERVISOR, *_STAFF)
    return None if await relations.reads_project(actor, project) else "FORBIDDEN_OWNER"


async def _move_project(actor: Principal, act: dict) -> Reason:
    """act: {"project": row, "roles": the roles the act names, "party": whether a party of the project may do it}.
    Staff of the project's district; a party's act also the project's named leads and its supervision party's
    supervisors (among the roles named)."""
    project, roles = act["project"], frozenset(act["roles"])
    if not actor.has_role(*roles):
        return "FORBIDDEN_ROLE", {"allowed": sorted(r.value for r in roles)}
    if actor.is_staff:
        return _station(actor, project)
    if not act["party"]:
        return "FORBIDDEN_ROLE", {"allowed": sorted(r.value for r in roles)}
    if actor.has_role(Role.PROJECT_LEAD) and await relations.is_lead_of(actor, project["id"]):
        return None
    if actor.has_role(Role.SUPERVISOR) and await relations.is_party_of(actor.enterprise_id, project["id"], "supervision"):
        return None
    return "FORBIDDEN_OWNER"


async def _roster_reach(actor: Principal, project: dict) -> tuple[Reason, Any]:
    """(refusal, whose stints): None = everyone's (staff of its district, a lead of its general contractor); an
    enterprise id = only that labour subcontractor's own."""
    if actor.is_staff:
        return _station(actor, project), None
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None:
        roles = await relations.party_roles(project["id"], actor.enterprise_id)
        if "general_contractor" in roles:
            return None, None
        if "labour_subcontractor" in roles:
            return None, actor.enterprise_id
    return "FORBIDDEN_ROLE", None


async def _read_roster(actor: Principal, project: dict) -> Reason:
    return (await _roster_reach(actor, project))[0]


async def _change_roster(actor: Principal, stint: dict) -> Reason:
    """stint: {"project": project row, "enterprise": employer}. A regulator admin of the district, a lead of the
    project's general contractor, or a lead of the employing labour subcontractor for its own workers."""
    if actor.is_staff and not actor.has_role(Role.REGULATOR_ADMIN):
        return "FORBIDDEN_ROLE"
    reason, seen = await _roster_reach(actor, stint["project"])
    if reason is not None:
        return reason
    return None if seen is None or seen == stint["enterprise"] else "FORBIDDEN_OWNER"


async def _manage_worker(actor: Principal, worker: dict) -> Reason:
    """worker: {"employer"}. A regulator admin; a project lead of the employer or of a general contractor."""
    if actor.has_role(Role.REGULATOR_ADMIN):
        return None
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None:
        if actor.enterprise_id == worker["employer"]:
            return None
        if "general_contractor" in await relations.enterprise_kinds(actor.enterprise_id):
            return None
    return "FORBIDDEN_ROLE"


# payroll (工资单): who the actor is for a (project, labour subcontractor) payroll
_SUB, _GC, _STAFF_SIDE = "subcontractor", "general_contractor", "staff"


async def _payroll_reach(actor: Principal, payroll: dict) -> tuple[Reason, str | None]:
    """payroll: {"project": project row, "enterprise": the subcontractor}. (refusal, side): staff of the project's
    district, the subcontractor's own leads, leads of the project's general contractor."""
    project = payroll["project"]
    if actor.is_staff:
        return _station(actor, project), _STAFF_SIDE
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None:
        if actor.enterprise_id == payroll["enterprise"]:
            return None, _SUB
        if "general_contractor" in await relations.party_roles(project["id"], actor.enterprise_id):
            return None, _GC
    return "FORBIDDEN_OWNER", None


async def _read_payroll(actor: Principal, payroll: dict) -> Reason:
    return (await _payroll_reach(actor, payroll))[0]


async def _keep_payroll(actor: Principal, payroll: dict) -> Reason:
    """Create, edit, recompute, submit, pay or correct: the subcontractor or the general contractor, not staff."""
    reason, side = await _payroll_reach(actor, payroll)
    if reason is None and side == _STAFF_SIDE:
        return "FORBIDDEN_ROLE", {"allowed": [_SUB, _GC]}
    return reason


async def _payroll_list_reach(actor: Principal, project: dict) -> tuple[Reason, Any]:
    """(refusal, whose payrolls): None = all (staff of the district, a lead of the general contractor); an
    enterprise id = a labour subcontractor's own."""
    if actor.is_staff:
        return _station(actor, project), None
    if not (actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None):
        return "FORBIDDEN_ROLE", None
    roles = await relations.party_roles(project["id"], actor.enterprise_id)
    if "general_contractor" in roles:
        return None, None
    if "labour_subcontractor" in roles:
        return None, actor.enterprise_id
    return "FORBIDDEN_OWNER", None


async def _list_payrolls(actor: Principal, project: dict) -> Reason:
    return (await _payroll_list_reach(actor, project))[0]


async def _review_clock(actor: Principal, clock: dict) -> Reason:
    """clock: {"project": project row, "employer"}. A lead of the employer on the project or of its general
    contractor (read_roster's reach over the employer's stints); not staff."""
    if actor.is_staff:
        return "FORBIDDEN_ROLE", {"allowed": ["employer", "general_contractor"]}
    reason, seen = await _roster_reach(actor, clock["project"])
    if reason is not None:
        return reason
    return None if seen is None or seen == clock["employer"] else "FORBIDDEN_OWNER"


def _lead_or_role(actor: Principal, *roles: Role) -> str:
    """The refusal of a relation: not yours (you hold the role) or not for your role."""
    return "FORBIDDEN_OWNER" if actor.has_role(*roles) else "FORBIDDEN_ROLE"


async def _hold_reach(actor: Principal, hold: dict) -> tuple[Reason, str | None]:
    """hold: {"project", "enterprise"}. The held subcontractor's leads or the project's general contractor's."""
    if actor.has_role(Role.PROJECT_LEAD) and actor.enterprise_id is not None:
        if actor.enterprise_id == hold["enterprise"]:
            return None, _SUB
        if "general_contractor" in await relations.party_roles(hold["project"], actor.enterprise_id):
            return None, _GC
    return _lead_or_role(actor, Role.PROJECT_LEAD), None


async def _request_hold_lift(actor: Principal, hold: dict) -> Reason:
    return (await _hold_reach(actor, hold))[0]


async def _read_hold(actor: Principal, hold: dict) -> Reason:
    """hold: {"project", "enterprise", "district"}. Staff of the district, the held firm's and the GC's leads."""
    if actor.is_staff:
        return _station(actor, hold)
    return (await _hold_reach(actor, hold))[0]


async def _request_inspection(actor: Principal, project: dict) -> Reason:
    """工序报验: one of the project's named leads."""
    ok = actor.has_role(Role.PROJECT_LEAD) and await relations.is_lead_of(actor, project["id"])
    return None if ok else _lead_or_role(actor, Role.PROJECT_LEAD)


async def _answer_inspection(actor: Principal, project: dict) -> Reason:
    """A supervisor of the project's supervision party (监理单位)."""
    ok = actor.has_role(Role.SUPERVISOR) and await relations.is_party_of(actor.enterprise_id, project["id"], "supervision")
    return None if ok else _lead_or_role(actor, Role.SUPERVISOR)


async def _inspection_document(actor: Principal, project: dict) -> Reason:
    if await _request_inspection(actor, project) is None or await _answer_inspection(actor, project) is None:
        return None
    return _lead_or_role(actor, Role.PROJECT_LEAD, Role.SUPERVISOR)


async def _set_baseline(actor: Principal, project: dict) -> Reason:
    """The supervising side only; a reader who is not gets BASELINE_NEEDS_SUPERVISOR."""
    reason = await _supervise_monitoring(actor, project)
    if reason is None or actor.is_staff:
        return reason
    return await _read_monitoring(actor, project) or "BASELINE_NEEDS_SUPERVISOR"


async def _read_worker(actor: Principal, worker: dict) -> Reason:
    """worker: {"employer"}. Staff of any district (masked), or whoever may manage the worker."""
    return None if actor.is_staff else await _manage_worker(actor, worker)


ACTIONS = {
    "read_worker_pii": _read_worker_pii,
    "export_unmasked": _export_unmasked,
    "export_roster": _export_roster,
    "manage_user": _manage_user,
    "file_lab_report": _file_lab_report,
    "act_as_lab": _act_as_lab,
    "read_project": _read_project,
    "read_holds": _read_holds,
    "project_complaints": _project_complaints,
    "inspect_material_entry": _inspect_material_entry,
    "witness_material": _witness_material,
    "decide_material_use": _decide_material_use,
    "manage_camera": _manage_camera,
    "read_camera": _read_camera,
    "read_monitoring": _read_monitoring,
    "manage_monitoring": _manage_monitoring,
    "handle_alarm": _handle_alarm,
    "supervise_monitoring": _supervise_monitoring,
    "approve_plan": _approve_plan,
    "move_project": _move_project,
    "read_roster": _read_roster,
    "change_roster": _change_roster,
    "manage_worker": _manage_worker,
    "read_worker": _read_worker,
    "read_payroll": _read_payroll,
    "keep_payroll": _keep_payroll,
    "list_payrolls": _list_payrolls,
    "review_clock": _review_clock,
    "request_hold_lift": _request_hold_lift,
    "read_hold": _read_hold,
    "request_inspection": _request_inspection,
    "answer_inspection": _answer_inspection,
    "inspection_document": _inspection_document,
    "set_baseline": _set_baseline,
}


def _raise(action: str, reason: Reason) -> None:
    if reason is None:
        return
    code, detail = (reason, {}) if isinstance(reason, str) else reason
    raise Forbidden(code, detail={"action": action, **detail})


async def allows(actor: Principal, action: str, resource: dict) -> bool:
    """Whether the policy lets the actor do the action on the resource (for choosing masked/unmasked views)."""
    return await ACTIONS[action](actor, resource) is None


async def check(actor: Principal, action: str, resource: dict) -> None:
    """Raise 403 with the policy's reason unless the actor may do the action on the resource."""
    _raise(action, await ACTIONS[action](actor, resource))


async def roster_scope(actor: Principal, project: dict) -> Any:
    """Whose stints the actor sees on a project (read_roster): None = everyone's, else that enterprise's own."""
    reason, seen = await _roster_reach(actor, project)
    _raise("read_roster", reason)
    return seen


async def payroll_side(actor: Principal, payroll: dict, action: str = "read_payroll") -> str:
    """Check read_payroll or keep_payroll and say who the actor is for it: subcontractor, general_contractor or
    staff."""
    reason, side = await _payroll_reach(actor, payroll)
    if reason is None and action == "keep_payroll":
        reason = await _keep_payroll(actor, payroll)
    _raise(action, reason)
    return str(side)


async def payroll_scope(actor: Principal, project: dict) -> Any:
    """Whose payrolls the actor lists on a project (list_payrolls): None = all, else that enterprise's own."""
    reason, seen = await _payroll_list_reach(actor, project)
    _raise("list_payrolls", reason)
    return seen


async def hold_side(actor: Principal, hold: dict) -> str:
    """Check request_hold_lift and say which party asks: subcontractor or general_contractor."""
    reason, side = await _hold_reach(actor, hold)
    _raise("request_hold_lift", reason)
    return str(side)


async def supervising_monitoring(actor: Principal, project: dict) -> bool:
    """Whether the actor is the supervising side of the project's monitoring (may loosen values, retire
    sensors); otherwise the actor must manage it (manage_monitoring), or is refused. Staff of another district
    are refused."""
    reason = await _supervise_monitoring(actor, project)
    if reason is None:
        return True
    if actor.is_staff:
        _raise("supervise_monitoring", reason)
    await check(actor, "manage_monitoring", project)
    return False


# --- rules that need no database: require(actor, action, resource) -------------------------------------------

def _staff(actor: Principal, _row: dict) -> Reason:
    """Staff (inspectors, regulator admins) of any district."""
    return None if actor.is_staff else _allowed(*_STAFF)


def _station(actor: Principal, row: dict) -> Reason:
    """Staff (inspectors, admins) of the row's district; a city admin everywhere."""
    if not actor.is_staff:
        return _allowed(*_STAFF)
    return None if actor.can_see_district(row["district"]) else "FORBIDDEN_DISTRICT"


def _admin_of_district(actor: Principal, row: dict) -> Reason:
    """A regulator admin of the row's district; a city admin everywhere."""
    if not actor.has_role(Role.REGULATOR_ADMIN):
        return _allowed(Role.REGULATOR_ADMIN)
    return None if actor.can_see_district(row["district"]) else "FORBIDDEN_DISTRICT"


def _city_admin(actor: Principal, what: dict) -> Reason:
    """City admins only; ``what`` (e.g. {"kind": …}) is named in the refusal."""
    return None if actor.is_city_wide else ("FORBIDDEN_ROLE", dict(what))


def _complaint_in_staff_scope(actor: Principal, row: dict) -> Reason:
    """Staff of the complaint's district; the city queue (no district) is the city admins'."""
    if not actor.is_staff:
        return "FORBIDDEN_ROLE"
    if row["district"] is None:
        return None if actor.is_city_wide else "FORBIDDEN_DISTRICT"
    return None if actor.can_see_district(row["district"]) else "FORBIDDEN_DISTRICT"


def _act_on_complaint(actor: Principal, row: dict) -> Reason:
    """Staff of its district; an inspector only while the case is unassigned or theirs."""
    reason = _complaint_in_staff_scope(actor, row)
    if reason is None and actor.has_role(Role.INSPECTOR) and row["assignee"] not in (None, actor.id):
        return "NOT_ASSIGNEE"
    return reason


def _own_complaint(actor: Principal, row: dict) -> Reason:
    return None if row["citizen"] == actor.id else "FORBIDDEN_OWNER"


def _read_enterprise(actor: Principal, enterprise: dict) -> Reason:
    """Staff read every enterprise; an enterprise user only its own."""
    if actor.is_staff:
        return None
    if actor.role in (Role.PROJECT_LEAD, Role.SUPERVISOR) and enterprise.get("id") is not None \
            and actor.enterprise_id == enterprise["id"]:
        return None
    return "FORBIDDEN_ROLE"


def _key_scope(actor: Principal, resource: dict) -> Reason:
    ok = actor.kind == "api_key" and resource["scope"] in actor.scopes
    return None if ok else ("API_KEY_SCOPE", {"required": resource["scope"]})


def _credit_admin(actor: Principal, enterprise: dict) -> Reason:
    """A regulator admin of the enterprise's district; a city admin for every enterprise."""
    if not actor.has_role(Role.REGULATOR_ADMIN):
        return _allowed(Role.REGULATOR_ADMIN)
    return None if actor.is_city_wide or enterprise["district"] == actor.district_id else "FORBIDDEN_DISTRICT"


def _read_credit(actor: Principal, enterprise: dict) -> Reason:
    """Staff of the enterprise's district or of any district when it has none; a city admin for every one."""
    if not actor.is_staff:
        return _allowed(*_STAFF)
    ok = actor.is_city_wide or enterprise["district"] in (None, actor.district_id)
    return None if ok else "FORBIDDEN_DISTRICT"


def _read_listing(actor: Principal, listing: dict) -> Reason:
    """Staff, or the listed enterprise's own project leads and supervisors."""
    if actor.has_role(*ENTERPRISE_ROLES) and actor.enterprise_id == listing["enterprise"]:
        return None
    return None if actor.is_staff else _allowed(*_STAFF)


def _appeal_listing(actor: Principal, listing: dict) -> Reason:
    """The listed enterprise's own project leads and supervisors."""
    ok = actor.has_role(*ENTERPRISE_ROLES) and actor.enterprise_id == listing["enterprise"]
    return None if ok else "FORBIDDEN_OWNER"


def _own_lab_report(actor: Principal, report: dict) -> Reason:
    """Void or correct a lab report: a user of the lab that filed it."""
    return None if actor.enterprise_id is not None and report["lab"] == actor.enterprise_id else "REPORT_NOT_OWN_LAB"


def _own_notification(actor: Principal, notification: dict) -> Reason:
    return None if notification["recipient"] == actor.id else "FORBIDDEN_OWNER"


def _read_receipts(actor: Principal, notification: dict) -> Reason:
    """The notification's recipient, or a city admin."""
    return None if notification["recipient"] == actor.id or actor.is_city_wide else "FORBIDDEN_OWNER"


def _role_rule(*roles: Role):
    def rule(actor: Principal, _row: dict) -> Reason:
        return None if actor.has_role(*roles) else _allowed(*roles)
    return rule


def _regulator_admin(actor: Principal, _row: dict) -> Reason:
    """Any regulator admin (of a district or the city)."""
    return None if actor.has_role(Role.REGULATOR_ADMIN) else _allowed(Role.REGULATOR_ADMIN)


def _city_admin_of_admins(actor: Principal, _row: dict) -> Reason:
    """A city admin; a district admin is refused for its district (FORBIDDEN_DISTRICT)."""
    if not actor.has_role(Role.REGULATOR_ADMIN):
        return _allowed(Role.REGULATOR_ADMIN)
    return None if actor.is_city_wide else "FORBIDDEN_DISTRICT"


def _city_queue(actor: Principal, _row: dict) -> Reason:
    """The city-level complaint queue (no district): city admins."""
    return None if actor.is_city_wide else "FORBIDDEN_DISTRICT"


def _file_complaint(actor: Principal, _row: dict) -> Reason:
    """A person signed in as citizen, worker, project lead or supervisor (staff do not report to themselves)."""
    if actor.kind != "user":
        return None  # keys are decided by the route table
    roles = (Role.CITIZEN, Role.WORKER, Role.PROJECT_LEAD, Role.SUPERVISOR)
    return None if actor.has_role(*roles) else _allowed(*roles)


def _person(actor: Principal, _row: dict) -> Reason:
    """Anyone signed in with a role (not a key)."""
    return None if actor.role is not None else _allowed(*Role)


def _view_complaint_as_citizen(actor: Principal, row: dict) -> Reason:
    """row: {"citizen", "joined"}. The reporter, or a citizen who joined the case (the public view)."""
    return None if row["citizen"] == actor.id or row["joined"] else "FORBIDDEN_OWNER"


def _review_content(actor: Principal, row: dict) -> Reason:
    """The station of the text or photo: staff users of its district; a city admin everywhere."""
    return None if actor.kind == "user" and actor.can_see_district(row["district"]) else "FORBIDDEN_DISTRICT"


def _own_privacy_rights(actor: Principal, _row: dict) -> Reason:
    """A person's own data rights (access, correction, closing): a citizen or worker user."""
    return None if actor.kind == "user" and actor.role in (Role.CITIZEN, Role.WORKER) else "FORBIDDEN_ROLE"


def _own_consent(actor: Principal, _row: dict) -> Reason:
    return None if actor.kind == "user" else "FORBIDDEN_ROLE"


def _link_worker(actor: Principal, _row: dict) -> Reason:
    """Bind a WeChat user to a registry record: a citizen or worker user."""
    return None if actor.kind == "user" and actor.role in (Role.CITIZEN, Role.WORKER) else "FORBIDDEN_ROLE"


def _own_media(actor: Principal, media: dict) -> Reason:
    """media: {"owner"} (and "media_id" to name in the refusal). The uploader."""
    if media["owner"] == actor.id:
        return None
    return ("FORBIDDEN_OWNER", {"media_id": media["media_id"]}) if media.get("media_id") else "FORBIDDEN_OWNER"


def _change_camera_settings(actor: Principal, change: dict) -> Reason:
    """change: {"station_only": [{"field", …}] — the plan values changed or thresholds loosened}. Staff may."""
    if actor.is_staff or not change["station_only"]:
        return None
    return "CAMERA_SETTING_STATION_ONLY", dict(change["station_only"][0])


def _clear_alarm(actor: Principal, alarm: dict) -> Reason:
    """alarm: {"rule"}. A structural (threshold) alarm is cleared by staff or a supervisor, not the regulated party."""
    if alarm["rule"] != "threshold" or actor.is_staff or actor.has_role(Role.SUPERVISOR):
        return None
    return "ALARM_CLEAR_NEEDS_SUPERVISOR"


def _loosen_monitoring(actor: Principal, change: dict) -> Reason:
    """change: {"supervising": supervising_monitoring's answer, "detail"}. Loosening alarm values or retiring a
    sensor: the supervising side only."""
    return None if change["supervising"] else ("THRESHOLD_LOOSENING_FORBIDDEN", dict(change["detail"]))


def _payroll_step(actor: Principal, step: dict) -> Reason:
    """step: {"step", "side" (payroll_side's answer), "held" (a quality hold is active)}. Approving is the general
    contractor's; submitting the subcontractor's, the general contractor's only on a held subcontractor's behalf."""
    if step["step"] == "approve" and step["side"] != _GC:
        return "FORBIDDEN_ROLE", {"allowed": [_GC]}
    if step["step"] == "submit" and step["side"] == _GC and not step["held"]:
        return "FORBIDDEN_ROLE", {"allowed": [_SUB]}
    return None


RULES = {
    "staff": _staff,
    "station": _station,
    "admin_of_district": _admin_of_district,
    "city_admin": _city_admin,
    "staff_read_complaint": _complaint_in_staff_scope,
    "act_on_complaint": _act_on_complaint,
    "own_complaint": _own_complaint,
    "read_enterprise": _read_enterprise,
    "key_scope": _key_scope,
    "credit_admin": _credit_admin,
    "read_credit": _read_credit,
    "read_listing": _read_listing,
    "appeal_listing": _appeal_listing,
    "own_lab_report": _own_lab_report,
    "own_notification": _own_notification,
    "read_receipts": _read_receipts,
    "payroll_step": _payroll_step,
    "regulator_admin": _regulator_admin,
    "city_admin_of_admins": _city_admin_of_admins,
    "read_city_queue": _city_queue,
    "citizen": _role_rule(Role.CITIZEN),
    "worker": _role_rule(Role.WORKER),
    "party_view": _role_rule(Role.PROJECT_LEAD, Role.SUPERVISOR),
    "file_complaint": _file_complaint,
    "person": _person,
    "view_complaint_as_citizen": _view_complaint_as_citizen,
    "review_content": _review_content,
    "own_privacy_rights": _own_privacy_rights,
    "own_consent": _own_consent,
    "link_worker": _link_worker,
    "own_media": _own_media,
    "change_camera_settings": _change_camera_settings,
    "clear_alarm": _clear_alarm,
    "loosen_monitoring": _loosen_monitoring,
}


def permits(actor: Principal, action: str, resource: dict) -> bool:
    """Whether a database-free rule lets the actor do the action on the resource."""
    return RULES[action](actor, resource) is None


def require(actor: Principal, action: str, resource: dict) -> None:
    """Raise 403 with the rule's reason unless a database-free rule lets the actor do the action."""
    _raise(action, RULES[action](actor, resource))


# --- in words, for docs/ACCESS.md (every action and rule above has a line) ----------------------------------

WORDS: dict[str, str] = {
    # actions that read relations from the database
    "read_worker_pii": "a worker's unmasked ID number, phone, bank card: a city admin, or a project lead of an "
                       "enterprise employing the worker on a current roster or of that project's general contractor",
    "export_unmasked": "unmasked personal data in a roster export: a city admin, or a lead of the project's general "
                       "contractor",
    "export_roster": "a project's roster export (masked): staff of its district, a lead of its general contractor",
    "manage_user": "create or change an account: a city admin anyone; a district admin only the inspectors and "
                   "admins of its own district",
    "file_lab_report": "file a lab report on a batch: a user of the lab named in the batch's witnessed sampling, once "
                       "sampled",
    "act_as_lab": "record or withdraw lab reports at all: a user of an enterprise that is a testing lab",
    "read_project": "read a project and what hangs off it (materials, lots, reports): staff of its district, its "
                    "named leads, supervisors whose enterprise is a party",
    "read_holds": "a project's quality holds (质量停工): staff of its district, its leads, the people of every "
                  "party enterprise",
    "project_complaints": "the complaints about a site, without the citizen: its leads and its parties' "
                          "supervisors (staff use the district queue)",
    "inspect_material_entry": "进场验收 of a batch: a reader of the project who is staff, its supervisor or its lead",
    "witness_material": "见证取样 and 退场 of a batch: a reader of the project who is staff or a supervisor",
    "decide_material_use": "decide a batch's use: a supervisor of the project's supervision party (监理单位)",
    "manage_camera": "add, change or switch off a project's cameras: staff of its district, its named leads",
    "read_camera": "see a project's cameras and their alerts: staff of its district, its leads, its supervisors",
    "read_monitoring": "see a project's dangerous works, sensors and alarms: a reader of the project, or the safety "
                       "director named on one of its dangerous works",
    "manage_monitoring": "register dangerous works, points and sensors: staff of its district, its named leads",
    "handle_alarm": "acknowledge, comment on or clear an alarm: a person who may read the project's monitoring",
    "supervise_monitoring": "the supervising side of monitoring (may loosen values, sign baselines): staff of the "
                            "district, supervisors whose enterprise is a party",
    "approve_plan": "approve a dangerous work's special plan: staff of the district, a supervisor of a party",
    "move_project": "a lifecycle act (stage move, acceptance, assessment): one of the roles the act names; staff of "
                    "the project's district; for a party's act, the project's named leads and its supervision "
                    "party's supervisors",
    "read_roster": "a project's roster and teams: staff of its district, a lead of its general contractor "
                   "(everyone's), a lead of a labour subcontractor of the project (its own workers only)",
    "change_roster": "put workers on or off a roster, change teams: a regulator admin of the district, a lead of the "
                     "project's general contractor, a lead of the employing labour subcontractor for its own workers",
    "manage_worker": "register or change a worker: a regulator admin; a lead of the employer or of a general "
                     "contractor",
    "read_worker": "a worker's registry record (masked): staff of any district, or whoever may manage the worker",
    "read_payroll": "a payroll and its trail: staff of the project's district, the labour subcontractor's own "
                    "leads, leads of the project's general contractor",
    "keep_payroll": "create, edit, recompute, submit, pay or correct a payroll: the subcontractor's leads (not "
                    "while a quality hold is active) or the general contractor's; not staff",
    "list_payrolls": "a project's payrolls: staff of its district, a lead of its general contractor (all), a lead "
                     "of one of its labour subcontractors (its own)",
    "review_clock": "accept or reject a flagged clock: a lead of the worker's employer on the project or of its "
                    "general contractor; not staff",
    "request_hold_lift": "ask the station to re-inspect a quality hold: the held subcontractor's leads, the "
                         "general contractor's",
    "read_hold": "a quality hold's trail: staff of its district, the held subcontractor's and the general "
                 "contractor's leads",
    "request_inspection": "工序报验 (submit, resubmit): one of the project's named leads",
    "answer_inspection": "answer a 工序报验: a supervisor of the project's supervision party",
    "inspection_document": "attach a document to a 工序报验: the project's named leads, its supervision party's "
                           "supervisors",
    "set_baseline": "set a sensor's baseline: the supervising side only (staff of the district, supervisors of a "
                    "party); the lead is refused (BASELINE_NEEDS_SUPERVISOR)",
    # rules that need no database
    "staff": "staff (inspectors, regulator admins) of any district: the regulators' own lists and dashboards, "
             "filtered to their district",
    "station": "the station's own acts (reviews, spot checks, assessments, exports for training): staff of the "
               "district, a city admin everywhere",
    "admin_of_district": "a regulator admin of the district; a city admin everywhere",
    "city_admin": "city admins only (API keys, webhooks, serious violations, recomputing credit)",
    "staff_read_complaint": "read a complaint with its reporter: staff of its district; the city queue is the city "
                            "admins'",
    "act_on_complaint": "act on a complaint: staff of its district; an inspector only while unassigned or theirs",
    "own_complaint": "the citizen who reported the complaint",
    "read_enterprise": "read an enterprise: staff; an enterprise user its own",
    "key_scope": "a department API key carrying the scope",
    "credit_admin": "record or decide credit for an enterprise: a regulator admin of its district, a city admin",
    "read_credit": "an enterprise's credit file: staff of its district (or any, when it has none), a city admin",
    "read_listing": "a credit listing: staff, or the listed enterprise's own users",
    "appeal_listing": "appeal a listing: the listed enterprise's own users",
    "own_lab_report": "void or correct a lab report: a user of the lab that filed it",
    "own_notification": "mark a notification read: its recipient",
    "read_receipts": "a notification's delivery receipts: its recipient or a city admin",
    "payroll_step": "a payroll's step: approving is the general contractor's; submitting the subcontractor's, the "
                    "general contractor's only on behalf of a held subcontractor",
    "regulator_admin": "any regulator admin (register or change an enterprise)",
    "city_admin_of_admins": "city-wide personal-data duties (retention runs, the register): a city admin; a district "
                            "admin is refused",
    "read_city_queue": "the city-level complaint queue (cases in no district): city admins",
    "citizen": "a citizen (look for similar open reports, join one)",
    "worker": "a worker, for their own clocks and wages",
    "party_view": "the mini-program's lead and supervisor site views: project leads and supervisors (then "
                  "read_project)",
    "file_complaint": "report a complaint: a person signed in as citizen, worker, project lead or supervisor",
    "person": "anyone signed in as a person (their own complaints)",
    "view_complaint_as_citizen": "a complaint's citizen view: its reporter, or a citizen who joined it",
    "review_content": "review hidden texts and photos and their trail: the station of the district, a city admin",
    "own_privacy_rights": "a person's own data rights (access, correction, closing): a citizen or worker",
    "own_consent": "give or withdraw one's own consent: any signed-in person",
    "link_worker": "bind one's WeChat account to a worker record: a citizen or worker",
    "own_media": "an uploaded photo (complete, read, attach): its uploader",
    "change_camera_settings": "a camera's plan spacing, plan, support system, allowance, or a detection threshold "
                              "above the one in force: the station only; a lead files the approved values at "
                              "registration and may only tighten",
    "clear_alarm": "clear a structural (threshold) alarm: staff or a supervisor, not the regulated party",
    "loosen_monitoring": "loosen a sensor's alarm values or retire it: the supervising side only; the lead may "
                         "only tighten",
}
