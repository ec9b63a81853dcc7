"""Route guards: by role and by API-key scope (district and owner checks live in the services)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.auth.principal import Principal, Role

# Guards are coroutines: Litestar runs a plain function guard in a worker thread (sync_to_thread), one thread
# hop per request for a check that takes microseconds.
Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def _is_preflight(connection: ASGIConnection) -> bool:
    """OPTIONS (CORS preflight) carries no credentials by design and reaches no handler code."""
    return connection.scope.get("method") == "OPTIONS"


def roles(*allowed: Role) -> Guard:
    """Allow only users with one of these roles."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if _is_preflight(connection):
            return
        principal: Principal = connection.user
        principal.require_role(*allowed)

    guard.__name__ = f"roles({','.join(r.value for r in allowed)})"
    return guard


def scope(required: str) -> Guard:
    """Allow only API keys that carry this scope."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if _is_preflight(connection):
            return
        principal: Principal = connection.user
        principal.require_scope(required)

    guard.__name__ = f"scope({required})"
    return guard


async def policy(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The app-wide guard: the route table of backend.access decides who may call each route."""
    if _is_preflight(connection):
        return
    from backend.access.policy import require_route  # the policy imports auth.principal: avoid a cycle

    # A mounted ASGI app (piccolo-admin) has no template of its own: its mount path stands for it.
    template = connection.scope.get("path_template") or next(iter(sorted(handler.paths)), "")
    require_route(connection.scope.get("user"), connection.scope.get("method") or "GET", template)
