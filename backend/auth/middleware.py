"""Authentication middleware: a Bearer access token or an X-API-Key header becomes request.user."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.accounts import service as accounts_service
from backend.accounts import sessions
from backend.auth.tokens import decode_access_token
from backend.errors import Unauthorized
from backend.settings import Settings


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Default deny: every route needs credentials unless it sets opt exclude_from_auth=True."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        header = connection.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("TOKEN_INVALID")
            principal = decode_access_token(settings, token.strip())
            current = await sessions.current_token_version(principal.id, sessions.trust_s(settings),
                                                           principal.token_version)
            if current != principal.token_version:  # disabled, password reset, role changed: sessions end at once
                raise Unauthorized("TOKEN_REVOKED")
            return AuthenticationResult(user=principal, auth=token)
        api_key = connection.headers.get("x-api-key")
        if api_key:
            principal = await accounts_service.authenticate_api_key(api_key)
            return AuthenticationResult(user=principal, auth=api_key)
        raise Unauthorized("AUTH_REQUIRED")
