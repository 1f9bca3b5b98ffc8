"""The consent gate for pages: a signed-in person who has not agreed to the current terms and
privacy policy is sent to the consent page (303, coming back to the page they asked for), or
told 403 consent_required by a page's script asking for JSON. The rule (which paths, whom) is
accounts.consents.required, handed over by the app factory as app.state.consent_required;
the API asks it where it learns who is calling (web.auth.optional_api_user)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import links
from errors import DomainError
from web.auth import ConsentRule
from web.errors import domain_error, wants_json
from web.sessions import SESSIONLESS_PREFIXES, browser_session


def consent_page(request: Request) -> str:
    """The consent page, coming back to this page (its path and query: never another site)
    after a GET; after a form's POST, to the home page."""
    if request.method not in ("GET", "HEAD"):
        return links.path("accounts.consent_page")
    query = request.url.query
    back = request.url.path + (f"?{query}" if query else "")
    return links.path("accounts.consent_page", _query={"next": back})


def htmx_page(request: Request) -> str | None:
    """The page (path and query) an htmx request was sent from, by its HX-Current-URL, when it
    is a page of this site; None otherwise."""
    current = urlsplit(request.headers.get("hx-current-url", ""))
    if current.netloc != request.url.netloc or not current.path.startswith("/"):
        return None
    if current.path.startswith("//") or "\\" in current.path:
        return None
    return urlunsplit(("", "", current.path, current.query, ""))


class ConsentGate:
    """ASGI middleware, inside ServerSessions (it reads the person the session loaded)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SESSIONLESS_PREFIXES):
            await self.app(scope, receive, send)
            return
        user = browser_session(scope).user
        rule: ConsentRule | None = getattr(scope["app"].state, "consent_required", None)
        refused = (
            await rule(user, scope["path"], scope["method"]) if rule is not None and user else None
        )
        if refused is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        if wants_json(request) and isinstance(refused, DomainError):
            response = await domain_error(request, refused)
        elif request.headers.get("hx-request"):
            # A fragment (the inbox badge polls every page) never leads to the consent page:
            # the page it was sent from does, and comes back there after agreeing; on a page
            # the rule lets through (the consent page itself, a half-filled leaving form)
            # nothing is replaced (204 without a redirect).
            page = htmx_page(request)
            assert rule is not None  # it refused
            if page is None:
                target = links.path("accounts.consent_page")
            elif await rule(user, urlsplit(page).path, "GET") is None:
                target = None
            else:
                target = links.path("accounts.consent_page", _query={"next": page})
            headers = {"Vary": "HX-Request"}
            if target is not None:
                headers["HX-Redirect"] = target
            response = Response(status_code=204, headers=headers)
        else:
            response = RedirectResponse(consent_page(request), status_code=303)
        await response(scope, receive, send)
