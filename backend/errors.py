"""AppError and the one error shape: {"code": "STABLE_CODE", "message": "<zh-CN>", "detail": ...}."""

from __future__ import annotations

from typing import Any

from backend.messages import message


class AppError(Exception):
    """An error with a stable code, a zh-CN message and an HTTP status."""

    status_code: int = 400
    code: str = "BAD_REQUEST"

    def __init__(
        self,
        code: str | None = None,
        message_zh: str | None = None,
        *,
        status_code: int | None = None,
        detail: Any = None,
    ) -> None:
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.message = message_zh or message(self.code)
        self.detail = detail
        super().__init__(f"{self.code}: {self.message}")

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.detail)


def error_body(code: str, message_zh: str | None = None, detail: Any = None) -> dict[str, Any]:
    """The one error shape every 4xx/5xx uses."""
    return {"code": code, "message": message_zh or message(code), "detail": detail}


class BadRequest(AppError):
    status_code = 400
    code = "VALIDATION_ERROR"


class Unauthorized(AppError):
    status_code = 401
    code = "AUTH_REQUIRED"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN_ROLE"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"


class Unprocessable(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"


class TooManyRequests(AppError):
    status_code = 429
    code = "RATE_LIMITED"


class UpstreamError(AppError):
    """An outside service (WeChat...) failed or refused."""

    status_code = 502
    code = "WECHAT_ERROR"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
