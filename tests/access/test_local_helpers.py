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
