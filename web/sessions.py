"""Signed cookie sessions: HttpOnly, SameSite=Lax, and Secure when the request came over https."""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "shuyuan_session"
SESSION_MAX_AGE = 30 * 24 * 3600


class SchemeAwareSessions:
    """Starlette's SessionMiddleware fixes the Secure flag at start-up; we decide per request.

    Behind a TLS-terminating proxy, uvicorn's --proxy-headers turns X-Forwarded-Proto into the
    scope's scheme, so the cookie is Secure exactly when the browser used https.
    """

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        options = {"session_cookie": SESSION_COOKIE, "max_age": SESSION_MAX_AGE, "same_site": "lax"}
        self._plain = SessionMiddleware(app, secret_key, https_only=False, **options)  # type: ignore[arg-type]
        self._secure = SessionMiddleware(app, secret_key, https_only=True, **options)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secure = scope.get("scheme") in ("https", "wss")
        await (self._secure if secure else self._plain)(scope, receive, send)
