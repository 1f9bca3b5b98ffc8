"""Every error becomes one shape: {"error": {"code", "message"}} for the API, a page for people."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import asyncpg
import psycopg
import psycopg_pool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from tortoise.exceptions import DBConnectionError, OperationalError

import links
from errors import DomainError, RateLimited, ServiceUnavailable, ValidationError, fill
from translation import N_, reason_in
from web.api import error_body, json_response
from web.auth import same_site_referer
from web.forms import field_errors
from web.i18n import api_locale, translations
from web.limits import PayloadTooLarge
from web.rendering import flash, gettext_for, redirect_after_post, render

logger = logging.getLogger("shuyuan")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_field",
    429: "rate_limited",
}
HTTP_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This method is not allowed here.",
}


# Machine endpoints answer errors in JSON: the API, and the provider's webhook; so do pages'
# own scripts (the checkout's), which ask for JSON.
JSON_PATH_PREFIXES = ("/api/", "/payments/webhook")
# Files a player or an app fetches (again for every range it plays): a refusal is its reason
# as plain text, not a whole page nobody sees (a page cost twice the file's own check:
# bench/morning_push.py).
FILE_PATH_PREFIXES = ("/feed/audio/",)


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(JSON_PATH_PREFIXES):
        return True
    return request.headers.get("accept", "").startswith("application/json")


# A form post refused for one of these is sent back with its reason (a flash); anything else
# (no such thing, a body too large, the database away) answers a page with its status.
FORM_REFUSALS = (403, 409, 422, 429)


# What people call the fields the services name in a ValidationError (the last part of a
# nested name: "shipping.phone" -> "phone"); a field not listed is shown by its name.
FIELD_LABELS = {
    "email": N_("Email"),
    "password": N_("Password"),
    "current_password": N_("Current password"),
    "new_password": N_("New password"),
    "display_name": N_("Display name"),
    "bio": N_("Short bio"),
    "avatar": N_("Avatar"),
    "locale": N_("Language"),
    "title": N_("Title"),
    "body": N_("Text"),
    "teaser": N_("Teaser"),
    "keyword": N_("Keyword"),
    "category": N_("Category"),
    "reason": N_("Reason"),
    "audio": N_("Audio"),
    "image": N_("Picture"),
    "artwork": N_("Podcast artwork"),
    "picture": N_("Picture"),
    "page": N_("Page you wrote from"),
    "status": N_("Status"),
    "description": N_("Description"),
    "name": N_("Name"),
    "slug": N_("Short name"),
    "amount_fen": N_("Amount"),
    "price_fen": N_("Price"),
    "price": N_("Price"),
    "stock": N_("Stock"),
    "quantity": N_("Quantity"),
    "items": N_("Items"),
    "payment_method": N_("Payment method"),
    "tracking_number": N_("Tracking number"),
    "seats": N_("Seats"),
    "opens_at": N_("Opens"),
    "closes_at": N_("Closes"),
    "sale_starts_at": N_("Sale starts"),
    "sale_ends_at": N_("Sale ends"),
    "days": N_("Days"),
    "term_days": N_("Term (days)"),
    "ship_name": N_("Recipient"),
    "recipient": N_("Recipient"),
    "ship_phone": N_("Mobile number"),
    "phone": N_("Mobile number"),
    "ship_province": N_("Province"),
    "province": N_("Province"),
    "ship_city": N_("City"),
    "city": N_("City"),
    "ship_district": N_("District"),
    "district": N_("District"),
    "ship_address": N_("Street address"),
    "address": N_("Street address"),
    "channel": N_("How to be told"),
    "kind": N_("Kind of notice"),
    "token": N_("Link"),
    "terms": N_("Terms of service"),
    "privacy": N_("Privacy policy"),
    "age_14": N_("Age"),
    "document": N_("Document"),
    "cursor": N_("Page"),
    "change": N_("Stock change"),
    "per_customer_limit": N_("Per-person limit"),
    "per_person_limit": N_("Per-person limit"),
    "member_head_start_minutes": N_("Member head start (minutes)"),
    "raffle_entries_until": N_("Raffle entries until"),
    "raffle_purchase_minutes": N_("Raffle purchase window (minutes)"),
    "requires_shipping": N_("Ships by post"),
    "published": N_("Published"),
    "role": N_("Role"),
    "send_at": N_("Send time"),
    "audience": N_("Audience"),
    "segment_id": N_("Segment"),
    "product_id": N_("Product"),
    "filter": N_("Conditions"),
    "visibility": N_("Who may read it"),
    "tag": N_("Tag"),
    "actor": N_("Done by"),
    "action": N_("Action"),
    "object_type": N_("Object"),
    "object_id": N_("Object number"),
    "since": N_("From"),
    "until": N_("To"),
    "body_": N_("Request body"),
    # An auto-reply's keywords and replies (keywords.rules), by their nested names.
    "keywords": N_("Keywords"),
    "keywords.text": N_("Keyword"),
    "keywords.match": N_("Matches"),
    "replies": N_("Replies"),
    "replies.kind": N_("Kind of reply"),
    "replies.text": N_("Text of the reply"),
    "replies.id": N_("What the reply names"),
    "mode": N_("Answer with"),
    "word": N_("Word"),
}


def field_label(field: str, _: Callable[[str], str]) -> str:
    """A field's label: its nested name without positions ("replies[0].kind" ->
    "replies.kind") when one is listed, else its last part's."""
    last = re.split(r"[.\[]", field.rstrip("]"))[-1].rstrip("]")
    label = FIELD_LABELS.get(re.sub(r"\[\d+\]", "", field)) or FIELD_LABELS.get(last)
    return _(label) if label else field


def in_reader_language(
    request: Request,
    exc: DomainError,
    *,
    with_field: bool = True,
    gettext: Callable[[str], str] | None = None,
) -> str:
    """The error's message in the reader's language (`gettext`, else the page's): the
    template translated, then filled ("“%(title)s” is sold out." -> "“限量版”已售罄。"). A bad
    field's reason is prefixed by the field's label unless `with_field` is false (a page
    marks the field itself)."""
    _ = gettext or gettext_for(request)
    if isinstance(exc, ValidationError):
        reason = reason_in(exc.reason, _)
        if not with_field:
            return reason
        return _("%(field)s: %(reason)s") % {"field": field_label(exc.field, _), "reason": reason}
    return fill(_(exc.template), exc.details)


def form_errors(request: Request, exc: DomainError) -> dict[str, str]:
    """A refused form's errors by field, for its page to show each beside its field
    (web.forms.field_errors); an error that is not a ValidationError but names the field it
    is about (details["field"]: a text's blocked words) beside that field, in the reader's
    language."""
    field = exc.details.get("field")
    if not isinstance(exc, ValidationError) and isinstance(field, str):
        return {field: in_reader_language(request, exc)}
    return field_errors(exc)


def api_gettext(request: Request) -> Callable[[str], str]:
    """The API's language for this request (web.i18n.api_locale, with the caller if known)."""
    return translations(api_locale(request, getattr(request.state, "api_user", None))).gettext


def back_to(request: Request) -> str:
    """Where a refused form post sends the browser back to: the page the route named
    (web.rendering.on_error_back), else the same-site page the form was on, else home."""
    named = getattr(request.state, "back", None)
    if isinstance(named, str) and named.startswith("/"):
        return named
    return same_site_referer(request) or links.path("site.home")


async def _error_page(request: Request, status: int, message: str) -> Response:
    _ = gettext_for(request)
    return await render(
        request, "error.html", {"status": status, "message": _(message)}, status_code=status
    )


def error_headers(exc: DomainError) -> dict[str, str]:
    """The headers an answer refusing with `exc` carries (Retry-After when to come back):
    the handler's, and a page's that shows the refusal in its own form."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, PayloadTooLarge):
        headers["Connection"] = "close"  # the rest of the body is not read
    return headers


async def form_refused(
    request: Request, template: str, context: dict[str, Any], exc: DomainError
) -> Response:
    """A form page shown again with its refusal beside its fields (the one exception to
    letting a DomainError reach domain_error): the error's status and headers, as the
    handler would send them."""
    response = await render(request, template, context, status_code=exc.status)
    response.headers.update(error_headers(exc))
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = error_headers(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        extra["field"] = exc.field
        if len(exc.errors) > 1:
            extra["errors"] = [{"field": name, "message": text} for name, text in exc.errors]
    # Details that help a client act (a keyword hint, the clashing item): simple values only.
    for key, value in exc.details.items():
        if isinstance(value, str | int | float | bool) or value is None:
            extra.setdefault(key, value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            extra.setdefault(key, value)  # the blocked words, by name
    if wants_json(request):
        api = request.url.path.startswith(JSON_PATH_PREFIXES)
        # A page's script marks the field named in "field" and shows the reason beside it.
        message = (
            in_reader_language(request, exc, gettext=api_gettext(request))
            if api
            else in_reader_language(request, exc, with_field=False)
        )
        return json_response(
            error_body(str(exc.code), message, **extra), exc.status, headers=headers
        )
    if request.url.path.startswith(FILE_PATH_PREFIXES):
        response = Response(
            in_reader_language(request, exc, with_field=False),
            exc.status,
            media_type="text/plain; charset=utf-8",
        )
        response.headers.update(headers)
        return response
    if request.method == "POST" and exc.status in FORM_REFUSALS:
        # A refused form: back to where it was sent from, with the reason shown once there.
        flash(request, in_reader_language(request, exc), "error")
        response = redirect_after_post(request, back_to(request))
        response.headers.update(headers)
        return response
    try:
        response = await render(
            request,
            "error.html",
            {"status": exc.status, "message": in_reader_language(request, exc)},
            status_code=exc.status,
        )
    except Exception:  # the page needs the database, which may be what is missing
        if not isinstance(exc, ServiceUnavailable):
            raise
        response = Response(exc.message, exc.status, media_type="text/plain; charset=utf-8")
    response.headers.update(headers)
    return response


# What a database that does not answer raises, below or through Tortoise.
UNREACHABLE = (
    DBConnectionError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    # The reads in one round trip (db.AsyncpgClient.read_row): no connection in time.
    psycopg_pool.PoolTimeout,
)
# psycopg's errors that say the connection is gone or refused, not that the statement failed
# (a deadlock or a full disk stays a 500): none from the server (the client lost it), the
# connection exceptions (08), the server shutting down (57P01-3), too many connections.
_PSYCOPG_UNREACHABLE = ("08", "57P01", "57P02", "57P03", "53300")


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached or is busy."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, UNREACHABLE):
            return True
        if isinstance(seen, psycopg.OperationalError) and (
            seen.sqlstate is None or seen.sqlstate.startswith(_PSYCOPG_UNREACHABLE)
        ):
            return True
        if isinstance(seen, sqlite3.OperationalError) and "locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def unreachable(request: Request, exc: Exception) -> Response:
    """503 service_unavailable with Retry-After when the database does not answer."""
    if not database_unreachable(exc):
        return await server_error(request, exc)
    logger.warning("database unreachable on %s %s: %r", request.method, request.url.path, exc)
    return await domain_error(request, ServiceUnavailable())


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if 300 <= exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = (
        exc.detail
        if exc.detail and exc.detail != _default_phrase(exc)
        else (HTTP_MESSAGES.get(exc.status_code, str(exc.detail)))
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    if wants_json(request):
        code = HTTP_CODES.get(exc.status_code, "error")
        return json_response(error_body(code, message), exc.status_code, headers=headers)
    response = await _error_page(request, exc.status_code, message)
    response.headers.update(headers)
    return response


def allowed_methods(request: Request) -> str:
    """Every method some route of the app answers at this request's path (Starlette's own
    405 names only the first route that matched the path)."""
    methods: set[str] = set()

    def walk(routes: list[BaseRoute], scope: dict[str, Any]) -> None:
        for route in routes:
            match, child = route.matches(scope)
            if match == Match.NONE:
                continue
            if isinstance(route, Mount):
                walk(route.routes, {**scope, **child})
            elif isinstance(route, Route) and route.methods:
                methods.update(route.methods)

    # From the top: inside a Mount the scope's root_path already holds the mount's prefix.
    top = {**request.scope, "root_path": request.scope.get("app_root_path", "")}
    walk(request.app.router.routes, top)
    return ", ".join(sorted(methods))


def _default_phrase(exc: HTTPException) -> str:
    from http import HTTPStatus

    return HTTPStatus(exc.status_code).phrase


async def server_error(request: Request, exc: Exception) -> Response:
    if database_unreachable(exc):  # raised outside the routes: a session read, in its middleware
        return await unreachable(request, exc)
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Something went wrong on our side; please try again."
    if wants_json(request):
        return json_response(error_body("internal_error", message), 500)
    try:
        return await _error_page(request, 500, message)
    except Exception:  # the page itself may be what is broken
        return Response(message, status_code=500, media_type="text/plain; charset=utf-8")


async def client_gone(request: Request, exc: Exception) -> Response:
    # The client hung up while its request body was being read: nobody is left to answer, and
    # it is not our error. (A crowd whose browsers give up sees many of these.)
    logger.debug("client left during %s %s", request.method, request.url.path)
    return Response(status_code=400)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ClientDisconnect: client_gone,
    DomainError: domain_error,
    HTTPException: http_error,
    # Handled inside the app (not by the last-resort handler), so the connection stays open.
    **dict.fromkeys((*UNREACHABLE, OperationalError, psycopg.OperationalError), unreachable),
    Exception: server_error,
}
