"""HTTP plumbing shared by every controller: error handlers, request ids, the base schema type."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from asyncpg.exceptions import DataError, ForeignKeyViolationError
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import AppError, error_body

log = structlog.get_logger("zhijian.http")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(content=body, status_code=status, headers=headers, media_type="application/json")


def app_error_handler(_: Request, exc: AppError) -> Response:
    if exc.status_code >= 500:
        log.error("app_error", code=exc.code, detail=exc.detail)
    return _json(exc.status_code, exc.to_body())


def _validation_detail(exc: ValidationException) -> Any:
    extra = exc.extra
    if isinstance(extra, list):
        return [
            {k: v for k, v in item.items() if k in {"key", "message", "source"}} if isinstance(item, dict) else item
            for item in extra
        ]
    return extra or exc.detail


def _is_malformed_body(exc: BaseException) -> bool:
    """True when the body could not be parsed at all (as opposed to parsed into wrong types)."""
    seen: BaseException | None = exc
    for _ in range(10):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return False
        if isinstance(seen, msgspec.DecodeError) and not isinstance(seen, msgspec.ValidationError):
            return True
    return False


def http_exception_handler(_: Request, exc: HTTPException) -> Response:
    """Map Litestar's own exceptions onto the one error shape."""
    status = exc.status_code
    headers = getattr(exc, "headers", None)
    if status == 400 and _is_malformed_body(exc):
        return _json(400, error_body("MALFORMED_JSON", detail=str(exc.detail)))
    if isinstance(exc, ValidationException):
        return _json(400, error_body("VALIDATION_ERROR", detail=_validation_detail(exc)))
    code = {
        NotFoundException: "NOT_FOUND",
        MethodNotAllowedException: "METHOD_NOT_ALLOWED",
        NotAuthorizedException: "AUTH_REQUIRED",
        PermissionDeniedException: "FORBIDDEN_ROLE",
        TooManyRequestsException: "RATE_LIMITED",
    }.get(type(exc))
    if code is None:
        if status == 415:
            code = "UNSUPPORTED_MEDIA_TYPE"
        elif status == 413:
            code = "BODY_TOO_LARGE"
        elif status >= 500:
            code = "INTERNAL_ERROR"
        else:
            code = "VALIDATION_ERROR" if status == 400 else f"HTTP_{status}"
    detail = None if status >= 500 else (exc.detail if exc.detail and exc.detail != code else None)
    return _json(status, error_body(code, detail=detail), headers=headers)


def database_input_handler(request: Request, exc: DataError) -> Response:
    """A value PostgreSQL cannot take (an integer beyond its range, a malformed literal) is bad input."""
    log.info("rejected_by_database", path=request.url.path, error=str(exc)[:200])
    return _json(400, error_body("VALIDATION_ERROR", detail="a value is out of range or malformed"))


def reference_missing_handler(request: Request, exc: ForeignKeyViolationError) -> Response:
    """An id in the request that names nothing (a project, an enterprise): bad input, nothing written."""
    log.info("reference_missing", path=request.url.path, error=str(exc)[:200])
    return _json(400, error_body("REFERENCE_NOT_FOUND", detail={"constraint": exc.constraint_name}))


def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Anything unexpected: log it with the request id, answer the one shape, never a bare 500."""
    log.exception("unhandled_error", path=request.url.path, error=repr(exc))
    return _json(500, error_body("INTERNAL_ERROR"))


EXCEPTION_HANDLERS = {
    AppError: app_error_handler,
    DataError: database_input_handler,
    ForeignKeyViolationError: reference_missing_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID in and out), bind it to the log context, log one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, int | bool] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Raised before a response started (e.g. by the auth middleware): the exception handler that
            # wraps the app answers with the exception's own status, so that is the status sent.
            if not status_holder.get("started"):
                status_holder["status"] = exc.status_code if isinstance(exc, AppError | HTTPException) else 500
            raise
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status_holder["status"],
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()
