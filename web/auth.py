"""Who is asking: the signed-in person of an HTML session, or the owner of an API bearer token.

web/ imports no package: a person is whatever the session store (web.sessions) and the token
owner the app factory hands over (`app.state.token_owner`, accounts' user_for_token) give,
an accounts User in the app. Routes read it as one."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

import links
from errors import Forbidden, Unauthorized
from web.sessions import browser_session

_UNSET = object()
# What the app factory hands over as app.state.token_owner: the person a bearer token names.
TokenOwner = Callable[..., Awaitable[Any]]
User = Any  # an accounts User, as the session store and the token owner give it
Endpoint = Callable[[Request], Awaitable[Any]]
# What the app factory hands over as app.state.consent_required: for a person, a path and a
# method, the error refusing them (403 consent_required) until they agree, or None.
ConsentRule = Callable[[Any, str, str], Awaitable[Exception | None]]


async def current_user(request: Request) -> User | None:
    """The user of this browser session, or None (loaded with the session, fresh each
    request: lost admin rights or membership count at once)."""
    return browser_session(request.scope).user


def current_session_id(request: Request) -> int | None:
    row = browser_session(request.scope).row
    return row.id if row is not None else None


def sign_in(request: Request, user: User) -> None:
    """Start a new session (a new key and CSRF token) for `user`; the old one ends."""
    request.session.clear()
    browser_session(request.scope).sign_in(user)


def sign_out(request: Request) -> None:
    """End this browser's session: its row is deleted."""
    request.session.clear()
    browser_session(request.scope).sign_out()


class SignInRequired(HTTPException):
    """Raised by HTML routes for anonymous visitors; the error handler redirects to the login."""

    def __init__(self, next_url: str) -> None:
        login = links.path("accounts.login_page", _query={"next": next_url})
        super().__init__(status_code=303, headers={"Location": login})


def same_site_referer(request: Request) -> str | None:
    """The page (path and query) of this site the request came from, if its Referer says so."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return urlunsplit(("", "", referer.path, referer.query, ""))
    return None


def page_to_return_to(request: Request) -> str:
    """Where signing in should bring a person back: this page (with its query) when it is one
    (GET), else the page the form or button was on (a POST-only URL answers 405 to a GET)."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    return same_site_referer(request) or links.path("site.home")


async def require_user(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        raise SignInRequired(page_to_return_to(request))
    return user


def staff_only(capability: str) -> Callable[[Endpoint], Endpoint]:
    """Guard a console endpoint: only staff whose role grants `capability` (a value of
    accounts.roles.Capability; the person's `may` answers) get past. Anonymous callers get
    401 on the API (a path under the `api` mount) and a 303 to the sign-in page otherwise;
    signed-in people without the capability get 403. The endpoint reads the person with
    `staff_member(request)`. The capability is kept on the endpoint (`staff_capability`):
    tests/console/test_guards.py checks every console route from the routing table by it."""

    def guard(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Any:
            if request.scope.get("root_path", "").endswith("/api/v1"):
                user = await api_user(request)
                if not user.may(capability):
                    raise Forbidden("Your staff role does not allow this.")
            else:
                user = await require_user(request)
                if not user.may(capability):
                    raise HTTPException(
                        status_code=403, detail="Your staff role does not allow this page."
                    )
            request.state.staff_member = user
            return await endpoint(request)

        guarded.__dict__["staff_capability"] = capability
        return guarded

    return guard


def refuse_cross_site(request: Request) -> None:
    """Refuse a GET that writes (an export is an audit entry) when another site's page started
    it: browsers say where a request comes from in Sec-Fetch-Site, and a link or an image on
    another site would otherwise fill the log in a staff member's name. Typed, bookmarked and
    same-site requests pass."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status_code=403, detail="Start this download from the console.")


def staff_member(request: Request) -> User:
    """The staff member a `staff_only` guard let in."""
    return request.state.staff_member


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def api_user(request: Request) -> User:
    """The owner of the request's bearer token. Raises Unauthorized (401)."""
    user = await optional_api_user(request)
    if user is None:
        raise Unauthorized()
    return user


async def optional_api_user(request: Request) -> User | None:
    cached = getattr(request.state, "api_user", _UNSET)
    if cached is not _UNSET:
        return cached
    token = bearer_token(request)
    owner: TokenOwner = request.app.state.token_owner
    user = await owner(token, now=datetime.now(UTC)) if token else None
    request.state.api_user = user
    await refuse_without_consent(request, user)
    return user


async def refuse_without_consent(request: Request, user: User | None) -> None:
    """Raise what the app's consent rule (`app.state.consent_required`, accounts.consents.
    required) answers for this person and path: 403 consent_required until the current
    terms and privacy policy are agreed, except where the rule lets them through."""
    rule: ConsentRule | None = getattr(request.app.state, "consent_required", None)
    if rule is not None and user is not None:
        refused = await rule(user, request.url.path, request.method)
        if refused is not None:
            raise refused


def client_address(request: Request) -> str:
    """The caller's IP address (uvicorn's --proxy-headers fills it in behind a proxy)."""
    return request.client.host if request.client else "unknown"
