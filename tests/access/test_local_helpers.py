"""No domain keeps a permission helper of its own: rights are decided in backend/access (issue #17).

A function under backend/ (outside backend/access) named like a local rights helper — ``_require_*``,
``_may_*``, ``may_*``, ``can_read``, ``_can_*`` — that refuses with ``Forbidden`` (or through the principal's
``require_role`` / ``require_district`` / ``require_scope``) fails this test: add the rule to
``backend.access.policy`` (ACTIONS or RULES, with its WORDS) and ask it from the service instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "backend"

HELPER_NAME = re.compile(r"^(_require_\w+|_may_\w+|may_\w+|can_read|_can_\w+)$")
REFUSING_CALLS = {"Forbidden", "require_role", "require_district", "require_scope"}

# Not about rights: backend/auth/service.py `_require_active` refuses a disabled account (account state), which
# the sign-in checks before there is any actor to ask the policy about.
EXEMPT = {("auth/service.py", "_require_active")}


def _refuses(fn: ast.AST) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.id if isinstance(called, ast.Name) else called.attr if isinstance(called, ast.Attribute) else ""
            if name in REFUSING_CALLS:
                return True
    return False


def local_helpers(source: str) -> list[str]:
    """Names of functions in this source that look like a local rights helper and refuse by themselves."""
    return [node.name for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and HELPER_NAME.match(node.name) and _refuses(node)]


def test_the_scanner_finds_a_local_helper():
    source = '''
from backend.errors import Forbidden

async def _require_manager(actor, project):
    if not actor.is_staff:
        raise Forbidden("FORBIDDEN_ROLE")

def may_change(actor, row):
    actor.require_district(row["district"])

async def can_read(actor, row):
    if row is None:
        raise Forbidden("FORBIDDEN_OWNER")

def _can_see(actor):
    return True  # no refusal: not a helper that decides a right by raising

async def _require_lab(actor):
    await access_policy.check(actor, "act_as_lab", {})
'''
    assert local_helpers(source) == ["_require_manager", "may_change", "can_read"]


def test_no_local_permission_helper_remains():
    found = []
    for path in sorted(BACKEND.rglob("*.py")):
        rel = path.relative_to(BACKEND).as_posix()
        if rel.startswith("access/"):
            continue
        for name in local_helpers(path.read_text(encoding="utf-8")):
            if (rel, name) not in EXEMPT:
                found.append(f"backend/{rel}: {name}")
    assert not found, (
        "local permission helpers decide rights outside backend/access; move each into backend.access.policy "
        f"(ACTIONS/RULES + WORDS) and call policy.check/require: {found}")


# --- no refusal about who asks outside backend/access and backend/auth ---------------------------------------
#
# Any ``Forbidden(...)`` raised, and any ``require_role(...)`` / ``require_district(...)`` / ``require_scope(...)``
# called, under backend/ outside backend/access and backend/auth fails this test: ask backend.access.policy
# (check/require/allows) or backend.access.scope instead. The exceptions below are refusals about a thing's
# state, not about who asks; each is a (file, code) pair with its reason.

REFUSALS_ABOUT_STATE: dict[tuple[str, str], str] = {
    ("workforce/payroll.py", "PAYROLL_HELD"): "the month's payroll is under a quality hold (the hold's state)",
    ("workforce/payroll.py", "NOT_A_WORKER"): "the signed-in worker has no worker record yet",
    ("workforce/attendance.py", "NOT_A_WORKER"): "the signed-in worker has no worker record yet",
    ("workforce/attendance.py", "<verdict.code>"): "the clock-in verdict (not on the roster today, outside the "
                                                   "site fence): the worker's state, decided by attendance rules",
    ("privacy/consent.py", "PRIVACY_CONSENT_REQUIRED"): "the person has not consented to the current notice",
    ("content_security/push.py", "WECHAT_PUSH_SIGNATURE"): "the push's signature is not WeChat's (who sent the "
                                                            "bytes, checked before there is an actor)",
}

GUARDED_CALLS = {"require_role", "require_district", "require_scope"}


def refusals(source: str) -> list[tuple[int, str]]:
    """(line, code) of each ``Forbidden`` raised and each principal guard called in this source; the code is the
    Forbidden's literal first argument (``<expr>`` when it is not a literal) or the guard's name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        name = called.id if isinstance(called, ast.Name) else called.attr if isinstance(called, ast.Attribute) else ""
        if name == "Forbidden":
            arg = node.args[0] if node.args else None
            code = arg.value if isinstance(arg, ast.Constant) else f"<{ast.unparse(arg)}>" if arg is not None else "<>"
            found.append((node.lineno, str(code)))
        elif name in GUARDED_CALLS:
            found.append((node.lineno, name))
    return sorted(found)


def test_the_refusal_scanner_finds_forbidden_and_guards():
    source = '''
from backend.errors import Forbidden

async def approve(actor, row):
    actor.require_role(Role.INSPECTOR)
    actor.require_district(row["district"])
    if row["held"]:
        raise Forbidden("PAYROLL_HELD")
    raise Forbidden(verdict.code)

def ok(actor):
    return policy.require(actor, "station", {"district": 1})
'''
    assert refusals(source) == [(5, "require_role"), (6, "require_district"), (8, "PAYROLL_HELD"),
                                (9, "<verdict.code>")]


def test_no_refusal_about_who_asks_outside_the_policy():
    found = []
    used = set()
    for path in sorted(BACKEND.rglob("*.py")):
        rel = path.relative_to(BACKEND).as_posix()
        if rel.startswith(("access/", "auth/")):
            continue
        for line, code in refusals(path.read_text(encoding="utf-8")):
            if (rel, code) in REFUSALS_ABOUT_STATE:
                used.add((rel, code))
            else:
                found.append(f"backend/{rel}:{line} {code}")
    assert not found, (
        f"{len(found)} rights decisions outside backend/access: ask backend.access.policy (check/require/allows) "
        f"or backend.access.scope, or, for a refusal about a thing's state, add (file, code) with a reason to "
        f"REFUSALS_ABOUT_STATE: {found}")
    assert not set(REFUSALS_ABOUT_STATE) - used, f"stale exceptions: {sorted(set(REFUSALS_ABOUT_STATE) - used)}"
