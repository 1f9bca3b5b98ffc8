"""Every error becomes one shape: {"error": {"code", "message"}} for the API, a page for people."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from errors import DomainError, RateLimited, ValidationError
from web.api import error_body, json_response
from web.rendering import gettext_for, render

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


# Machine endpoints answer errors in JSON: the API, and the provider's webhook.
JSON_PATH_PREFIXES = ("/api/", "/payments/webhook")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PATH_PREFIXES)


async def _error_page(request: Request, status: int, message: str) -> Response:
    _ = gettext_for(request)
    return await render(
        request, "error.html", {"status": status, "message": _(message)}, status_code=status
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, ValidationError):
        extra["field"] = exc.field
    # Details that help a client act (a keyword hint, the clashing item): simple values only.
    for key, value in exc.details.items():
        if isinstance(value, str | int | float | bool) or value is None:
            extra.setdefault(key, value)
    if wants_json(request):
        return json_response(
            error_body(str(exc.code), exc.message, **extra), exc.status, headers=headers
        )
    response = await _error_page(request, exc.status, exc.message)
    response.headers.update(headers)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if 300 <= exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = (
        exc.detail
        if exc.detail and exc.detail != _default_phrase(exc)
        else (HTTP_MESSAGES.get(exc.status_code, str(exc.detail)))
    )
    if wants_json(request):
        code = HTTP_CODES.get(exc.status_code, "error")
        return json_response(error_body(code, message), exc.status_code, headers=exc.headers)
    return await _error_page(request, exc.status_code, message)


def _default_phrase(exc: HTTPException) -> str:
    from http import HTTPStatus

    return HTTPStatus(exc.status_code).phrase


async def server_error(request: Request, exc: Exception) -> Response:
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


EXCEPTION_HANDLERS = {
    ClientDisconnect: client_gone,
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: server_error,
}
