"""Sessions for the HTML app: an opaque cookie that names a session kept in the database.

The cookie (HttpOnly, SameSite=Lax, Secure when the request came over https) carries only a
random key. For each page request the middleware loads its session and account in one query and
offers the session's data as `request.session` (flash messages); after the response it keeps
what changed. Signing in or out, or rights that changed since the session began, give the
browser a new key. A visitor without a session gets a key only when one is needed (a form's
CSRF token is derived from it; a flash message makes a row).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any, Protocol

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SessionStore(Protocol):
    """Where sessions are kept: accounts.sessions, handed over by the app factory (web/ is
    the floor under every package and imports none of them). A session row has `id`, `data`
    and `user` (the signed-in person, or None for a visitor)."""

    async def load(self, key: str, *, now: datetime, lifetimes: Any, path: str) -> Any: ...

    def privileges_changed(self, session: Any, now: datetime) -> bool: ...

    async def begin_with_key(
        self,
        key: str,
        user: Any,
        *,
        now: datetime,
        user_agent: str,
        address: str,
        data: dict[str, Any],
        began_at: datetime | None = None,
    ) -> tuple[str, Any]: ...

    async def save(self, session: Any, *, data: dict[str, Any], now: datetime) -> None: ...

    async def end(self, session_id: int) -> None: ...


def new_key() -> str:
    """A session key: random, shown once to the browser (only its digest is stored)."""
    return secrets.token_urlsafe(32)


SESSION_COOKIE = "shuyuan_session"
_KEY = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# Paths that never read a session: no cookie is looked up for them.
SESSIONLESS_PREFIXES = (
    "/static/",
    "/media/",
    "/api/",
    "/payments/webhook",
    "/payments/notify/",
    "/healthz",
)


@dataclass
class BrowserSession:
    """This request's session: `key` (the cookie's value, if any), the stored row, and what
    the route asked for (sign in, sign out)."""

    key: str | None
    row: Any  # the store's session row, or None
    secret: str
    new_key: bool = False
    begin_for: Any = None  # the person a new session is to begin for
    ended: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    # When the person signed in, kept by a session that only changes its key with new rights
    # (its absolute lifetime, and a fresh sign-in's proof, run from the real sign-in); None: a
    # sign-in now.
    began_at: datetime | None = None

    @property
    def user(self) -> Any:
        if self.ended:
            return None
        if self.begin_for is not None:
            return self.begin_for
        return self.row.user if self.row is not None else None

    def ensure_key(self) -> str:
        if self.key is None:
            self.key, self.new_key = new_key(), True
        return self.key

    def csrf_token(self) -> str:
        """A form token bound to this session's key (so it changes with every sign-in)."""
        key = self.ensure_key()
        digest = hmac.new(self.secret.encode(), f"csrf:{key}".encode(), "sha256")
        return digest.hexdigest()

    def sign_in(self, user: Any) -> None:
        """Begin a session for `user` under a new key, chosen now: a page rendered in this
        same request (the first after a change of rights) carries the CSRF token of the key
        the browser is about to hold, not of the one it is about to lose."""
        self.begin_for = user
        self.ended = False
        self.began_at = None
        self.key, self.new_key = new_key(), True

    def sign_out(self) -> None:
        self.begin_for = None
        self.ended = True


def browser_session(scope: Scope) -> BrowserSession:
    session = scope.get("browser_session")
    if session is None:
        raise RuntimeError("ServerSessions middleware is not installed")
    return session  # type: ignore[no-any-return]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie_key(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:  # a malformed Cookie header: as if there were none
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


class ServerSessions:
    """ASGI middleware keeping HTML sessions in the database (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, secret_key: str, store: SessionStore, lifetimes: Any
    ) -> None:
        self.app = app
        self.store = store
        self.secret_key = secret_key
        self.lifetimes = lifetimes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(SESSIONLESS_PREFIXES):
            # No cookie is read here: an error page on these paths is an anonymous one.
            scope["session"] = {}
            scope["browser_session"] = BrowserSession(key=None, row=None, secret=self.secret_key)
            await self.app(scope, receive, send)
            return
        now = datetime.now(UTC)
        key = _cookie_key(scope)
        try:
            row = (
                await self.store.load(key, now=now, lifetimes=self.lifetimes, path=scope["path"])
                if key
                else None
            )
        except Exception as exc:
            # A database that does not answer: 503 with Retry-After, as a route's read gets,
            # answered here (the last-resort handler would close the browser's connection).
            # Imported here: web.errors renders pages, and rendering imports this module.
            from web.errors import database_unreachable, unreachable

            if not database_unreachable(exc):
                raise
            scope["session"] = {}
            scope["browser_session"] = BrowserSession(key=None, row=None, secret=self.secret_key)
            response = await unreachable(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        # A key without a row is a visitor's (its CSRF token is bound to it): kept as it is.
        visitor_key = key if key and _KEY.match(key) else None
        state = BrowserSession(key=visitor_key, row=row, secret=self.secret_key)
        if row is not None and row.user is not None and self.store.privileges_changed(row, now):
            state.sign_in(row.user)  # the same person, with new rights: a new key
            state.began_at = row.created_at  # not a new sign-in: the session began then
        data = dict(row.data) if row is not None else {}
        scope["session"] = data
        scope["browser_session"] = state
        secure = scope.get("scheme") in ("https", "wss")

        async def keeping_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._keep(state, data, scope, now)
                if cookie is not None:
                    headers = MutableHeaders(scope=message)
                    headers.append("Set-Cookie", self._cookie(cookie, secure))
            await send(message)

        await self.app(scope, receive, keeping_send)

    async def _keep(
        self, state: BrowserSession, data: dict[str, Any], scope: Scope, now: datetime
    ) -> str | None:
        """Store what this request changed; the cookie value to send, "" to clear it, or None."""
        user_agent = _header(scope, b"user-agent")
        client = scope.get("client")
        address = client[0] if client else ""
        if state.ended or state.begin_for is not None:
            if state.row is not None:
                await self.store.end(state.row.id)
            if state.ended and not data:
                return ""  # signed out, nothing to keep: the browser forgets the key
            key, state.row = await self.store.begin_with_key(
                state.ensure_key() if state.begin_for is not None else new_key(),
                state.begin_for,
                now=now,
                user_agent=user_agent,
                address=address,
                data=data,
                began_at=state.began_at,
            )
            return key
        if state.row is not None:
            await self.store.save(state.row, data=data, now=now)
            return None
        if data:  # a visitor's flash message: keep it under the key it may already have
            key = state.key or new_key()
            _, state.row = await self.store.begin_with_key(
                key, None, now=now, user_agent=user_agent, address=address, data=data
            )
            return key if key != _cookie_key(scope) else None
        return state.key if state.new_key else None

    def _cookie(self, value: str, secure: bool) -> str:
        max_age = int(self.lifetimes.absolute.total_seconds()) if value else 0
        parts = [
            f"{SESSION_COOKIE}={value}",
            "Path=/",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)
