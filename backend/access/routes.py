"""The route table: for every route, who may call it at all; the relation named in words is checked by the service.

Declaring a route is one entry: ``"METHOD /path/{param}": R(WHO, "what they get, in words")``.
A route missing here is refused to everyone (403 ROUTE_UNDECLARED) and fails tests/access/test_matrix.py,
which prints the entry to add. docs/ACCESS.md is generated from this table (``python -m backend.access.docs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.access.actors import (
    ALL_KINDS,
    ANY_KEY,
    CITIZEN,
    CITY_ADMIN,
    DISTRICT_ADMIN,
    INSPECTOR,
    KEY_PREFIX,
    LEAD,
    SUPERVISOR,
    USER_KINDS,
    WORKER,
)


@dataclass(frozen=True, slots=True)
class R:
    """Who may call a route (actor kinds) and, in words, which of the resources they reach."""

    who: frozenset[str]
    says: str


def _k(*kinds: str | frozenset[str]) -> frozenset[str]:
    out: set[str] = set()
    for k in kinds:
        out |= {k} if isinstance(k, str) else set(k)
    return frozenset(out)


EVERYONE = frozenset(ALL_KINDS)
USERS = frozenset(USER_KINDS)
ADMINS = _k(DISTRICT_ADMIN, CITY_ADMIN)
CITY = _k(CITY_ADMIN)
STAFF = _k(INSPECTOR, ADMINS)
ENTERPRISE = _k(LEAD, SUPERVISOR)
PARTIES = _k(ENTERPRISE, STAFF)
MP_PEOPLE = _k(CITIZEN, WORKER, ENTERPRISE)


def key(scope: str) -> str:
    return KEY_PREFIX + scope


D = "staff of the project's district (all districts for a city admin), the project's own parties"

ROUTES: dict[str, R] = {
    # --- public: health, sign-in, docs, Open311 (GeoReport v2 is public by specification) ---
    "GET /healthz": R(EVERYONE, "liveness"),
    "GET /readyz": R(EVERYONE, "readiness of PostgreSQL, Redis, S3, MQTT (up/down only)"),
    "GET /metrics": R(EVERYONE, "Prometheus counters (no personal data); restrict at the proxy"),
    "POST /api/v1/auth/login": R(EVERYONE, "staff sign-in (throttled per user name and per client address)"),
    "POST /api/v1/auth/refresh": R(EVERYONE, "the holder of a refresh token"),
    "POST /api/v1/auth/logout": R(EVERYONE, "the holder of a refresh token"),
    "POST /mp/v1/auth/login": R(EVERYONE, "mini-program sign-in with a WeChat code"),
    "POST /mp/v1/auth/bind": R(EVERYONE, "the holder of a one-time bind code"),
    "POST /mp/v1/auth/refresh": R(EVERYONE, "the holder of a refresh token"),
    "POST /mp/v1/auth/logout": R(EVERYONE, "the holder of a refresh token"),
    "GET /open311/v2/discovery.json": R(EVERYONE, "Open311 discovery"),
    "GET /open311/v2/discovery.xml": R(EVERYONE, "Open311 discovery"),
    "GET /open311/v2/services.json": R(EVERYONE, "Open311 service list"),
    "GET /open311/v2/services.xml": R(EVERYONE, "Open311 service list"),
    "GET /open311/v2/services/{name}": R(EVERYONE, "Open311 service definition"),
    "GET /open311/v2/requests.json": R(EVERYONE, "public view of service requests: no identity, no private photo, phone numbers masked"),
    "GET /open311/v2/requests.xml": R(EVERYONE, "public view of service requests (as requests.json)"),
    "GET /open311/v2/requests/{name}": R(EVERYONE, "public view of one service request"),
    "POST /open311/v2/requests.json": R(EVERYONE, "a key with scope open311:write (api_key parameter, checked by the Open311 service)"),
    "POST /open311/v2/requests.xml": R(EVERYONE, "a key with scope open311:write (api_key parameter)"),
    "GET /open311/v2/tokens/{name}": R(EVERYONE, "a key with scope open311:write (api_key parameter)"),
    "GET /console/dashboard": R(EVERYONE, "the holder of a one-time console ticket (issued to staff)"),
    # --- accounts ---
    "GET /api/v1/me": R(_k(USERS, ANY_KEY), "the caller's own account (a key: its name and scopes)"),
    "GET /mp/v1/me": R(USERS, "the caller's own account"),
    "GET /api/v1/users": R(ADMINS, "accounts of the admin's district (a city admin: all)"),
    "POST /api/v1/users": R(ADMINS, "a district admin creates inspectors/admins of its district only; enterprise users: city admin"),
    "GET /api/v1/users/{user_id}": R(ADMINS, "an account the admin manages"),
    "PATCH /api/v1/users/{user_id}": R(ADMINS, "an account the admin manages (its district; enterprise users: city admin)"),
    "POST /api/v1/users/{user_id}/bind-code": R(ADMINS, "an account the admin manages"),
    "GET /api/v1/api-keys": R(CITY, "department keys (never the key itself)"),
    "POST /api/v1/api-keys": R(CITY, "issue a department key (shown once)"),
    "POST /api/v1/api-keys/{key_id}/revoke": R(CITY, "revoke a department key"),
    "GET /api/v1/access/pii-reads": R(CITY, "the audit of every unmasked personal-data read and export"),
    # --- districts, geo, enterprises, projects ---
    "GET /api/v1/districts": R(USERS, "district names and codes"),
    "GET /api/v1/districts/{adcode}": R(USERS, "one district (boundary on request)"),
    "PATCH /api/v1/stations/{station_id}": R(ADMINS, "the station of the admin's district"),
    "GET /api/v1/geo/locate": R(USERS, "which district a point lies in"),
    "GET /mp/v1/geo/locate": R(USERS, "which district a point lies in"),
    "GET /api/v1/enterprises": R(STAFF, "all enterprises"),
    "POST /api/v1/enterprises": R(ADMINS, "register an enterprise (USCC checked)"),
    "GET /api/v1/enterprises/{enterprise_id}": R(PARTIES, "staff: any; enterprise users: their own"),
    "PATCH /api/v1/enterprises/{enterprise_id}": R(ADMINS, "change an enterprise"),
    "GET /api/v1/partner/enterprises/{uscc}": R(_k(key("enterprises:read")), "an enterprise by USCC"),
    "GET /api/v1/projects": R(PARTIES, D),
    "POST /api/v1/projects": R(STAFF, "a project in the caller's district"),
    "GET /api/v1/projects/{project_id}": R(PARTIES, D),
    "PATCH /api/v1/projects/{project_id}": R(STAFF, "staff of the project's district"),
    "POST /api/v1/projects/{project_id}/leads": R(STAFF, "staff of the project's district"),
    "DELETE /api/v1/projects/{project_id}/leads/{user_id}": R(STAFF, "staff of the project's district"),
    "PUT /api/v1/projects/{project_id}/parties": R(STAFF, "staff of the project's district"),
    "GET /mp/v1/projects/mine": R(ENTERPRISE, "projects the caller's enterprise is a party of / the caller leads"),
    "GET /mp/v1/projects/nearby": R(USERS, "public fields of projects near a point"),
    # --- notifications, media ---
    "GET /api/v1/notifications/{notification_id}/receipts": R(USERS, "the recipient, or a city admin"),
    "GET /api/v1/webhooks": R(CITY, "webhooks (secret and URL credentials never shown)"),
    "POST /api/v1/webhooks": R(CITY, "a webhook for chosen event kinds and a district scope; public address only"),
    "POST /api/v1/webhooks/{webhook_id}/activate": R(CITY, "a webhook"),
    "POST /api/v1/webhooks/{webhook_id}/deactivate": R(CITY, "a webhook"),
    "GET /api/v1/webhooks/{webhook_id}/deliveries": R(CITY, "a webhook's delivery log"),
    "GET /mp/v1/inbox": R(USERS, "the caller's own inbox"),
    "GET /mp/v1/inbox/unread-count": R(USERS, "the caller's own inbox"),
    "POST /mp/v1/inbox/{notification_id}/read": R(USERS, "the caller's own notification"),
    "POST /mp/v1/inbox/read-all": R(USERS, "the caller's own inbox"),
    "GET /mp/v1/subscriptions": R(USERS, "the caller's own WeChat subscription quota"),
    "POST /mp/v1/subscriptions": R(USERS, "the caller's own WeChat subscription quota"),
    "POST /mp/v1/media": R(USERS, "upload a photo (owned by the caller)"),
    "POST /mp/v1/media/presign": R(USERS, "upload a photo (owned by the caller)"),
    "GET /mp/v1/media/{media_id}": R(USERS, "the caller's own upload"),
    "POST /mp/v1/media/{media_id}/complete": R(USERS, "the caller's own upload"),
    "GET /mp/v1/media/{media_id}/url": R(USERS, "the caller's own upload"),
    # --- complaints (privacy rule: docs/ACCESS.md) ---
    "GET /api/v1/complaints": R(STAFF, "complaints of the caller's district (city admin: all)"),
    "GET /api/v1/complaints/{complaint_id}": R(STAFF, "a complaint of the caller's district, with the citizen's identity"),
    "POST /api/v1/complaints/{complaint_id}/accept": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/start": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/request-info": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/resume": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/resolve": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/reject": R(STAFF, "the assignee or staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/merge": R(STAFF, "staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/transfer": R(STAFF, "staff of its district"),
    "POST /api/v1/complaints/{complaint_id}/comments": R(STAFF, "staff of its district"),
    "PUT /api/v1/complaints/categories/{code}": R(ADMINS, "complaint categories and their SLA"),
    "PUT /api/v1/complaints/duty": R(STAFF, "the duty roster of the caller's district"),
    "GET /api/v1/complaints/dashboard": R(STAFF, "figures of the caller's district (city admin: any)"),
    "GET /api/v1/complaints/export.csv": R(STAFF, "figures of the caller's district (city admin: any)"),
    "GET /api/v1/complaints/overdue": R(STAFF, "overdue complaints of the caller's district"),
    "GET /mp/v1/complaints": R(USERS, "complaints the caller reported or joined"),
    "POST /mp/v1/complaints": R(MP_PEOPLE, "report a complaint (rate limited per person)"),
    "GET /mp/v1/complaints/categories": R(USERS, "complaint categories"),
    "GET /mp/v1/complaints/similar": R(_k(CITIZEN), "public view of open reports near the citizen's point (rate limited)"),
    "GET /mp/v1/complaints/by-project/{project_id}": R(ENTERPRISE, "complaints on a project the caller is a party of (no identity)"),
    "GET /mp/v1/complaints/{complaint_id}": R(USERS, "the reporter: all of it; a joiner: the public view only"),
    "POST /mp/v1/complaints/{complaint_id}/join": R(_k(CITIZEN), "follow an open report (rate limited)"),
    "POST /mp/v1/complaints/{complaint_id}/confirm": R(MP_PEOPLE, "the reporter"),
    "POST /mp/v1/complaints/{complaint_id}/info": R(MP_PEOPLE, "the reporter"),
    "POST /mp/v1/complaints/{complaint_id}/rating": R(MP_PEOPLE, "the reporter, until the case is closed"),
    "POST /mp/v1/complaints/{complaint_id}/reopen": R(MP_PEOPLE, "the reporter"),
    # --- materials ---
    "GET /api/v1/materials/batches": R(PARTIES, D),
    "POST /api/v1/materials/batches": R(PARTIES, "the project's parties and district staff"),
    "GET /api/v1/materials/batches/{batch_id}": R(PARTIES, D),
    "GET /api/v1/materials/batches/{batch_id}/certificate": R(PARTIES, D),
    "POST /api/v1/materials/batches/{batch_id}/certificate": R(PARTIES, "the project's parties"),
    "POST /api/v1/materials/batches/{batch_id}/transport-legs": R(PARTIES, "the project's parties"),
    "POST /api/v1/materials/batches/{batch_id}/entry-inspection": R(PARTIES, "the project's supervisor (or district staff)"),
    "POST /api/v1/materials/batches/{batch_id}/samplings": R(PARTIES, "the project's supervisor (or district staff)"),
    "POST /api/v1/materials/batches/{batch_id}/reports": R(_k(SUPERVISOR), "only the lab named in the batch's sampling, after sampling"),
    "GET /api/v1/materials/batches/{batch_id}/reports": R(PARTIES, D),
    "POST /api/v1/materials/batches/{batch_id}/uses": R(PARTIES, "the project's parties"),
    "POST /api/v1/materials/batches/{batch_id}/removal": R(PARTIES, "the project's parties"),
    "GET /api/v1/materials/batches/{batch_id}/timeline": R(PARTIES, D),
    "GET /api/v1/materials/batches/{batch_id}/trace": R(PARTIES, D),
    "GET /api/v1/materials/batches/{batch_id}/labels": R(PARTIES, D),
    "POST /api/v1/materials/batches/{batch_id}/labels": R(PARTIES, "the project's parties"),
    "GET /api/v1/materials/batches/{batch_id}/labels/sheet.svg": R(PARTIES, D),
    "GET /api/v1/materials/labels/{label_id}/qr.png": R(PARTIES, D),
    "GET /api/v1/materials/labels/{label_id}/qr.svg": R(PARTIES, D),
    "POST /api/v1/materials/labels/{label_id}/revoke": R(PARTIES, "the project's parties"),
    "POST /api/v1/materials/scan": R(USERS, "the public trace of a signed label"),
    "POST /api/v1/materials/scan/photo": R(USERS, "the public trace of a signed label"),
    "POST /mp/v1/materials/scan": R(USERS, "the public trace of a signed label"),
    "POST /mp/v1/materials/scan/photo": R(USERS, "the public trace of a signed label"),
    "GET /api/v1/materials/standards": R(USERS, "the rule sets reports are judged by"),
    "GET /api/v1/materials/alerts": R(STAFF, "material alerts of the caller's district"),
    "GET /api/v1/materials/credit-events": R(_k(STAFF, key("credit:read")), "material credit events (key reads audited, rate limited)"),
    # --- monitoring ---
    "GET /api/v1/monitoring/works": R(PARTIES, D),
    "POST /api/v1/monitoring/works": R(PARTIES, "the project's lead or district staff"),
    "GET /api/v1/monitoring/works/{work_id}": R(PARTIES, D),
    "PATCH /api/v1/monitoring/works/{work_id}": R(PARTIES, "the project's lead or district staff"),
    "DELETE /api/v1/monitoring/works/{work_id}": R(PARTIES, "the project's lead or district staff"),
    "POST /api/v1/monitoring/works/{work_id}/plan": R(PARTIES, "the project's lead or district staff"),
    "POST /api/v1/monitoring/works/{work_id}/plan/approve": R(PARTIES, "the supervisor or district staff"),
    "GET /api/v1/monitoring/works/{work_id}/points": R(PARTIES, D),
    "POST /api/v1/monitoring/works/{work_id}/points": R(PARTIES, "the project's lead or district staff"),
    "GET /api/v1/monitoring/points/{point_id}/sensors": R(PARTIES, D),
    "POST /api/v1/monitoring/points/{point_id}/sensors": R(PARTIES, "the project's lead or district staff"),
    "GET /api/v1/monitoring/sensors/{sensor_id}": R(PARTIES, D),
    "GET /api/v1/monitoring/sensors/{sensor_id}/series": R(PARTIES, D),
    "GET /api/v1/monitoring/alarms": R(PARTIES, D + " (parties: with a project_id)"),
    "GET /api/v1/monitoring/alarms/{alarm_id}": R(PARTIES, D),
    "POST /api/v1/monitoring/alarms/{alarm_id}/ack": R(PARTIES, "the project's parties or district staff"),
    "POST /api/v1/monitoring/alarms/{alarm_id}/clear": R(PARTIES, "the supervisor or district staff (separation of duties, issue 18)"),
    "POST /api/v1/monitoring/alarms/{alarm_id}/comments": R(PARTIES, "the project's parties or district staff"),
    "GET /api/v1/monitoring/dead-letters": R(STAFF, "readings that could not be stored"),
    "GET /mp/v1/monitoring/alarms": R(PARTIES, "alarms of projects the caller leads or supervises"),
    "GET /mp/v1/monitoring/alarms/{alarm_id}": R(PARTIES, "an alarm of such a project"),
    "POST /mp/v1/monitoring/alarms/{alarm_id}/ack": R(PARTIES, "an alarm of such a project"),
    "POST /mp/v1/monitoring/alarms/{alarm_id}/clear": R(PARTIES, "the supervisor (separation of duties, issue 18)"),
    "POST /mp/v1/monitoring/alarms/{alarm_id}/comments": R(PARTIES, "an alarm of such a project"),
    # --- cameras ---
    "GET /api/v1/cameras": R(PARTIES, D),
    "POST /api/v1/cameras": R(_k(STAFF, LEAD), "the project's lead or district staff; public address only"),
    "GET /api/v1/cameras/alerts": R(PARTIES, D),
    "GET /api/v1/cameras/frames/{frame_id}": R(PARTIES, D),
    "GET /api/v1/cameras/{camera_id}": R(PARTIES, D + " (URL credentials never shown)"),
    "PATCH /api/v1/cameras/{camera_id}": R(_k(STAFF, LEAD), "the project's lead or district staff; disabling tells the station"),
    "PUT /api/v1/cameras/{camera_id}/calibration": R(_k(STAFF, LEAD), "the project's lead or district staff"),
    "POST /api/v1/cameras/{camera_id}/frames": R(PARTIES, "the project's parties or district staff"),
    # --- workforce ---
    "POST /api/v1/workers": R(_k(ADMINS, LEAD), "the employer's or a general contractor's lead"),
    "GET /api/v1/workers/by-id-number": R(_k(STAFF, LEAD), "masked record"),
    "GET /api/v1/workers/{worker_id}": R(_k(STAFF, LEAD), "masked record"),
    "GET /api/v1/workers/{worker_id}/pii": R(_k(LEAD, CITY_ADMIN), "unmasked: leads of the worker's current employer or general contractor, a city admin; every read audited"),
    "GET /api/v1/roster": R(_k(STAFF, LEAD), "staff of the project's district, leads of its general contractor or employer"),
    "POST /api/v1/roster": R(_k(STAFF, LEAD), "the project's general contractor or employer"),
    "POST /api/v1/roster/{stint_id}/exit": R(_k(STAFF, LEAD), "the project's general contractor or employer"),
    "PUT /api/v1/roster/{stint_id}/team": R(_k(STAFF, LEAD), "the project's general contractor or employer"),
    "GET /api/v1/teams": R(PARTIES, D),
    "POST /api/v1/teams": R(PARTIES, "the project's general contractor or employer"),
    "GET /api/v1/teams/{team_id}": R(PARTIES, D),
    "PATCH /api/v1/teams/{team_id}": R(PARTIES, "the project's general contractor or employer"),
    "GET /api/v1/attendance": R(PARTIES, D),
    "GET /api/v1/payrolls": R(PARTIES, D),
    "POST /api/v1/payrolls": R(PARTIES, "the project's employer"),
    "GET /api/v1/payrolls/{payroll_id}": R(PARTIES, D),
    "GET /api/v1/payrolls/{payroll_id}/events": R(PARTIES, D),
    "PUT /api/v1/payrolls/{payroll_id}/lines": R(PARTIES, "the project's employer"),
    "POST /api/v1/payrolls/{payroll_id}/submit": R(PARTIES, "the project's employer"),
    "POST /api/v1/payrolls/{payroll_id}/approve": R(PARTIES, "the general contractor"),
    "POST /api/v1/payrolls/{payroll_id}/pay": R(PARTIES, "the general contractor"),
    "GET /api/v1/spot-checks": R(PARTIES, D),
    "POST /api/v1/spot-checks": R(STAFF, "staff of the project's district"),
    "GET /api/v1/quality-holds": R(PARTIES, D),
    "GET /api/v1/quality-holds/{hold_id}/events": R(PARTIES, D),
    "POST /api/v1/quality-holds/{hold_id}/request-lift": R(PARTIES, "the project's parties"),
    "POST /api/v1/quality-holds/{hold_id}/lift": R(ADMINS, "a regulator admin of the project's district who did not do the passing re-inspection (two people)"),
    "GET /api/v1/workforce/exports": R(_k(STAFF, LEAD), "export files; unmasked only for the general contractor's lead and a city admin, audited"),
    "GET /api/v1/workforce/exports/{name}": R(_k(STAFF, LEAD), "as above"),
    "POST /mp/v1/workforce/link": R(_k(CITIZEN, WORKER), "bind the caller to their registry record"),
    "POST /mp/v1/workforce/clocks": R(_k(WORKER), "the worker's own clock-in/out"),
    "GET /mp/v1/workforce/clocks": R(_k(WORKER), "the worker's own clocks"),
    # --- credit ---
    "GET /api/v1/credit/dashboard": R(STAFF, "credit figures"),
    "GET /api/v1/credit/listings": R(STAFF, "black/red list entries"),
    "GET /api/v1/credit/listings/{listing_id}": R(PARTIES, "staff; the listed enterprise's users"),
    "POST /api/v1/credit/listings/{listing_id}/appeals": R(ENTERPRISE, "the listed enterprise's users"),
    "POST /api/v1/credit/appeals/{appeal_id}/decision": R(ADMINS, "decide an appeal"),
    "GET /api/v1/credit/enterprises/{enterprise_id}": R(STAFF, "an enterprise's credit record"),
    "POST /api/v1/credit/events": R(ADMINS, "a manual credit event"),
    "POST /api/v1/credit/recompute": R(ADMINS, "recompute scores"),
    "GET /api/v1/credit/audit": R(CITY, "credit audit log"),
    "POST /api/v1/credit/console-ticket": R(STAFF, "a one-time ticket for the credit console"),
    "GET /open/v1/credit/enterprises/{uscc}": R(_k(key("credit:read")), "an enterprise's credit (audited)"),
    "POST /open/v1/credit/bulk-check": R(_k(key("credit:read")), "credit of many enterprises (audited)"),
}

# The routes of the session's other branches (materials verdicts, workforce and credit lists, monitoring lifecycle,
# camera review, a project's life, WeChat push and content security), declared when they were merged.
ROUTES.update({
    # --- materials: verdicts, decisions, lots (issue 19) ---
    "GET /api/v1/materials/concrete-lots": R(PARTIES, D),
    "GET /api/v1/materials/batches/{batch_id}/use-decisions": R(PARTIES, D),
    "POST /api/v1/materials/batches/{batch_id}/use-decisions": R(_k(SUPERVISOR), "a supervisor of the project's supervision firm, with a reason"),
    "POST /api/v1/materials/reports/{report_id}/void": R(_k(SUPERVISOR), "users of the lab that issued the report"),
    "POST /api/v1/materials/reports/{report_id}/correct": R(_k(SUPERVISOR), "users of the lab that issued the report"),
    # --- workforce: binding, flagged clocks, payroll (issue 19) ---
    "POST /api/v1/workers/{worker_id}/bind-code": R(_k(LEAD, ADMINS), "regulator admins, leads of the worker's employer or general contractor"),
    "GET /api/v1/attendance/flagged": R(_k(STAFF, LEAD), "district staff; a general contractor's lead (its projects); a subcontractor's lead (its own workers)"),
    "POST /api/v1/attendance/{clock_id}/review": R(_k(LEAD), "the employing subcontractor's lead or the general contractor's lead; not staff"),
    "POST /api/v1/payrolls/{payroll_id}/recompute": R(_k(LEAD), "the subcontractor (not while held) or the general contractor"),
    "POST /api/v1/payrolls/{payroll_id}/corrections": R(PARTIES, "the project's employer (not while held) or general contractor; staff are refused by the service"),
    "GET /api/v1/payrolls/{payroll_id}/corrections": R(PARTIES, D),
    "GET /mp/v1/workforce/payroll-lines": R(_k(WORKER), "the worker's own payroll lines"),
    # --- credit lists that bind (issue 19) ---
    "POST /api/v1/credit/listings/{listing_id}/suspend": R(ADMINS, "a regulator admin of the enterprise's district, or city-wide, with a reason"),
    "POST /api/v1/credit/listings/{listing_id}/new-evidence": R(ADMINS, "a regulator admin of the enterprise's district, or city-wide"),
    "GET /public/credit/lists": R(EVERYONE, "the public lists in notice and in force (公示): name, USCC, reason, dates; nothing personal"),
    "GET /public/credit/lists.json": R(EVERYONE, "the same as JSON"),
    # --- monitoring: sensor lifecycle (issue 18) ---
    "GET /api/v1/monitoring/sensors/{sensor_id}/lifecycle": R(PARTIES, D),
    "PATCH /api/v1/monitoring/sensors/{sensor_id}/thresholds": R(PARTIES, "district staff and the project's supervisors: any change; the project's leads: tighten only"),
    "POST /api/v1/monitoring/sensors/{sensor_id}/baseline": R(_k(SUPERVISOR, STAFF), "district staff, the project's supervisors"),
    "POST /api/v1/monitoring/sensors/{sensor_id}/pause": R(PARTIES, "district staff, the project's leads and supervisors"),
    "POST /api/v1/monitoring/sensors/{sensor_id}/resume": R(PARTIES, "district staff, the project's leads and supervisors"),
    "POST /api/v1/monitoring/sensors/{sensor_id}/retire": R(_k(SUPERVISOR, STAFF), "district staff, the project's supervisors"),
    "POST /api/v1/monitoring/sensors/{sensor_id}/credentials": R(_k(LEAD, STAFF), "district staff, the project's leads"),
    # --- cameras: review and real-site data (issue 21) ---
    "GET /api/v1/cameras/alert-stats": R(PARTIES, D),
    "POST /api/v1/cameras/alerts/{alert_id}/review": R(_k(LEAD, STAFF), "staff of the project's district and the project's leads; not supervisors"),
    "GET /api/v1/cameras/{camera_id}/labels/export": R(STAFF, "inspectors and admins of the project's district"),
    # --- a project's life (issue 20) ---
    "GET /api/v1/projects/{project_id}/stage": R(PARTIES, D),
    "POST /api/v1/projects/{project_id}/stage": R(PARTIES, "by action: permit and completion acceptance — district staff; start — the project's lead or district staff; foundation / structure acceptance — the project's supervisor; filing — a regulator admin"),
    "GET /api/v1/inspection-requests": R(PARTIES, D),
    "POST /api/v1/inspection-requests": R(_k(LEAD), "the project's lead"),
    "GET /api/v1/inspection-requests/{request_id}": R(PARTIES, D),
    "POST /api/v1/inspection-requests/{request_id}/resubmit": R(_k(LEAD), "the project's lead, after a failure"),
    "POST /api/v1/inspection-requests/{request_id}/answer": R(_k(SUPERVISOR), "a supervisor of the project's supervision firm"),
    "POST /api/v1/inspection-requests/{request_id}/audit": R(STAFF, "staff of the project's district"),
    "GET /api/v1/inspection-requests/{request_id}/documents": R(PARTIES, D),
    "POST /api/v1/inspection-requests/{request_id}/documents": R(ENTERPRISE, "the project's lead or its supervisor"),
    "GET /api/v1/projects/{project_id}/site": R(PARTIES, D),
    "GET /api/v1/projects/{project_id}/file/pdf": R(PARTIES, D),
    "GET /api/v1/projects/{project_id}/file/zip": R(PARTIES, D),
    "GET /api/v1/projects/{project_id}/key-personnel": R(PARTIES, D),
    "PUT /api/v1/projects/{project_id}/key-personnel": R(_k(LEAD, STAFF), "the project's lead or district staff"),
    "GET /api/v1/assessments": R(STAFF, "assessments of the caller's district (all for a city admin)"),
    "POST /api/v1/assessments": R(STAFF, "staff of the project's district"),
    "GET /console/projects/{project_id}/site": R(EVERYONE, "the holder of a one-time console ticket (issued to staff), then the district check"),
    "GET /mp/v1/projects/{project_id}/site": R(ENTERPRISE, "the project's leads and supervisors only"),
    # --- WeChat message push and content security (issue 16) ---
    "GET /wechat/push": R(EVERYONE, "WeChat only: its signature on every call (403 otherwise)"),
    "POST /wechat/push": R(EVERYONE, "WeChat only: its signature on every call (403 otherwise)"),
    "GET /api/v1/content-checks": R(STAFF, "content checks of the caller's district (all for a city admin)"),
    "POST /api/v1/content-checks/{check_id}/review": R(STAFF, "the case's station (its district's staff) or a city admin, with a reason; audited"),
    "GET /api/v1/content-checks/{check_id}/events": R(STAFF, "the case's station or a city admin"),
})


# People's rights and consent (issue 23).
ROUTES.update({
    "GET /mp/v1/privacy/notices": R(USERS, "the current privacy notices (general, precise location, face)"),
    "POST /mp/v1/privacy/consents": R(USERS, "the caller's own acceptance of a notice version"),
    "POST /mp/v1/privacy/consents/{item}/withdraw": R(USERS, "the caller's own acceptance, withdrawn"),
    "GET /mp/v1/privacy/my-data": R(_k(CITIZEN, WORKER), "everything Zhijian holds about the caller (JSON), logged"),
    "POST /mp/v1/privacy/requests": R(_k(CITIZEN, WORKER), "a correction request about the caller's own data"),
    "GET /mp/v1/privacy/requests": R(_k(CITIZEN, WORKER), "the caller's own requests"),
    "POST /mp/v1/privacy/close-account": R(_k(CITIZEN, WORKER), "close the caller's own account (explicit confirmation)"),
    "GET /api/v1/privacy/requests": R(ADMINS, "requests to the caller's district's station (all for a city admin)"),
    "POST /api/v1/privacy/requests/{request_id}/answer": R(ADMINS, "the responsible station's admin or a city admin"),
    "GET /api/v1/privacy/retention-runs": R(CITY, "the retention job's runs and counts"),
})


# Routes outside the OpenAPI document that still pass the policy guard (documentation itself).
UNDOCUMENTED_PUBLIC_PREFIXES = ("/schema", "/admin")  # /admin: piccolo-admin, its own sign-in (city admins only)
