"""The DomainError base that every package's errors derive from."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class CommonErrorCode(StrEnum):
    INVALID_FIELD = "invalid_field"
    RATE_LIMITED = "rate_limited"
    INVALID_JSON = "invalid_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    SERVICE_UNAVAILABLE = "service_unavailable"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"


class DomainError(Exception):
    """Something the caller did wrong, in the domain's words.

    `code` is a snake_case value of the package's error-code enum and is what API clients match
    on; `status` is the HTTP status the web layer answers with; `message` is for people.
    """

    code: ClassVar[StrEnum]
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request cannot be carried out."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        # The message before its details are filled in ("“%(title)s” is sold out."): the web
        # layer translates this and fills it in the reader's language.
        self.template = message or self.default_message
        self.details = details
        self.message = fill(self.template, details)
        super().__init__(self.message)


def fill(template: str, details: dict[str, Any]) -> str:
    """`template` with %(name)s placeholders filled from `details` (as written if it has none)."""
    if "%(" not in template:
        return template
    try:
        return template % details
    except (KeyError, TypeError, ValueError):
        return template


class ValidationError(DomainError):
    """A field of the input is missing or malformed; `field` names it. `errors` lists every
    (field, reason) found, this one first, so a form can show them all at once."""

    code: ClassVar[StrEnum] = CommonErrorCode.INVALID_FIELD
    status = 422

    def __init__(
        self, field: str, message: str, *, others: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field
        self.reason = message
        self.errors = others or [(field, message)]


class RateLimited(DomainError):
    """Too many attempts in a short time; `retry_after` is in seconds."""

    code = CommonErrorCode.RATE_LIMITED
    status = 429
    default_message = "Too many attempts; please wait and try again."

    def __init__(self, retry_after: int, message: str | None = None, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class InvalidJSON(DomainError):
    """The request body is not a JSON object."""

    code = CommonErrorCode.INVALID_JSON
    status = 400
    default_message = "The request body must be a JSON object."


class UnsupportedMediaType(DomainError):
    """A request body that does not say it is JSON. A page on another site can make a browser
    send a plain-text or form body to any address without asking first (no CORS preflight),
    but not one labelled application/json: refusing the rest keeps the API's endpoints that
    need no token (sign-in, SMS codes) out of other sites' reach."""

    code = CommonErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415
    default_message = "Send the request body as JSON (Content-Type: application/json)."


class ServiceUnavailable(DomainError):
    """Something we depend on (the database) does not answer; try again shortly."""

    code = CommonErrorCode.SERVICE_UNAVAILABLE
    status = 503
    default_message = "The service is busy or unreachable right now; please try again shortly."
    retry_after = 5


class Unauthorized(DomainError):
    """No one is signed in: the API's bearer token is missing, unknown or ended."""

    code = CommonErrorCode.UNAUTHORIZED
    status = 401
    default_message = "Sign in first (a valid bearer token is required)."


class Forbidden(DomainError):
    code = CommonErrorCode.FORBIDDEN
    status = 403
    default_message = "You are not allowed to do this."
