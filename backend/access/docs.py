"""docs/ACCESS.md, generated from the route table: ``python -m backend.access.docs > docs/ACCESS.md``."""

from __future__ import annotations

from collections import defaultdict

from backend.access.actors import ALL_KINDS, ANY_KEY, WORDS
from backend.access.policy import ACTIONS, RULES
from backend.access.policy import WORDS as ACTION_WORDS
from backend.access.routes import ROUTES

PREAMBLE = """# Who may see and do what (访问控制)

Generated from `backend/access/routes.py` by `python -m backend.access.docs`; do not edit by hand
(`tests/access/test_docs.py` fails when this page and the table differ). Every route of the API is in the
table; a route that is not is refused to everyone (`ROUTE_UNDECLARED`). `tests/access/test_matrix.py`
calls every route of the OpenAPI document as one caller of every kind below and checks the answer against
this table: a caller not listed gets 401/403 in the error shape, never data.

Two steps decide every request:

1. **The route**: the caller's kind must be listed for the route (below). Enforced by one app-wide guard.
2. **The resource**: the service then checks the relation named in the last column (the project's district,
   party of the project, the reporter of the complaint, the lab of the sampling, …) through
   `backend.access.policy`; outside it the answer is 403 or 404 and tells nothing about the resource.

## Actor kinds

| kind | who |
|---|---|
{kinds}

## Rules that are not just "who may call"

- **Personal data of workers** (ID number, phone, bank card): shown masked everywhere. Unmasked
  (`GET /api/v1/workers/{{worker_id}}/pii`) only to a project lead of an enterprise that employs the worker on
  a project where the worker is on the roster now (not exited), or of that project's general contractor, and to
  a city admin. Every unmasked read and every unmasked export is written to `pii_reads`; city admins read it at
  `GET /api/v1/access/pii-reads`.
- **User management**: a district admin manages only the inspectors and admins of its own district;
  enterprise users (project leads, supervisors, lab users) and every user without a district are managed by
  city admins only.
- **Lab reports**: only a user of the testing lab named in the batch's witnessed sampling (见证取样) files a
  report, and only once the batch is sampled.
- **Complaint privacy**: a citizen's identity (name, phone, openid), exact address, location and photos are
  seen by the reporter and by staff of the district the case is routed to (the assigned station) — nobody else.
  A citizen who joined a case sees only what the public Open311 view shows (service, status, a coarse
  description with phone numbers masked, no photo, no reporter). Finding similar cases and joining them are
  for citizens only and rate limited. Open311 `GET requests` is public and shows only that public view.
- **Ratings**: the reporter rates a case once it is resolved and may change the rating while it stays
  resolved; once the case is closed and rated, the rating is final (`RATING_FINAL`), so the month's
  satisfaction figures cannot move afterwards. (A case closed without a rating may still be rated once.)
- **Outbound addresses**: camera and webhook URLs must not point inside the network (loopback, private,
  carrier-grade NAT, link-local, multicast, reserved — checked after resolving the name) unless the network is
  listed in `ZHIJIAN_OUTBOUND_ALLOW`; credentials in such URLs are never shown back, nor a camera's fetch error.
  The check is made again at every fetch and before every webhook call (a name may later resolve inside the
  network), and a webhook call goes to the very address checked.
- **Webhooks** receive only the event kinds they name, and, when they name districts, only those districts'
  events. Their signing secret is shown once, at registration, and stored encrypted.
- **Sessions**: disabling an account, resetting its password or changing its role ends every session at
  once (`TOKEN_REVOKED`).
- **Separation of duties** (partly): a project lead switching off its own camera is reported to the district's
  station at once. Alarm values, plan spacing and alarm clearing are guarded in the monitoring and vision
  services.
- **piccolo-admin** (`/admin`): city admins only (its own sign-in with the staff password).

## Resource actions

What the service asks `backend.access.policy` about the resource once the route lets the caller in
(`check`/`allows` for actions that read a relation from the database, `require`/`permits` for rules decided on the
row alone). No domain keeps a permission helper of its own (`tests/access/test_local_helpers.py`). Lists ask
`backend.access.scope.project_scope` for the same reach as a filter, so a list, its total and its counts hold only
rows the caller may read.

| action | kind | who may, in words |
|---|---|---|
{actions}

## Routes

"""


def render() -> str:
    kinds = "\n".join(f"| `{k}` | {WORDS[k]} |" for k in (*ALL_KINDS, ANY_KEY))
    groups: dict[str, list[str]] = defaultdict(list)
    for key_, rule in sorted(ROUTES.items(), key=lambda kv: (kv[0].split(" ", 1)[1], kv[0])):
        method, path = key_.split(" ", 1)
        top = "/".join(path.split("/")[:4]) if path.startswith(("/api/", "/mp/", "/open/")) else "/" + path.split("/")[1]
        who = "everyone" if set(ALL_KINDS) <= rule.who else ", ".join(
            f"`{k}`" for k in (*ALL_KINDS, ANY_KEY) if k in rule.who)
        groups[top].append(f"| `{method}` | `{path}` | {who} | {rule.says} |")
    body = []
    for top in sorted(groups):
        body.append(f"### `{top}`\n\n| method | route | who may call | what they reach |\n|---|---|---|---|")
        body.extend(groups[top])
        body.append("")
    actions = "\n".join(
        f"| `{name}` | {'relation' if name in ACTIONS else 'rule'} | {ACTION_WORDS[name]} |"
        for name in sorted({*ACTIONS, *RULES}))
    return PREAMBLE.format(kinds=kinds, actions=actions) + "\n".join(body)


if __name__ == "__main__":
    print(render(), end="")
