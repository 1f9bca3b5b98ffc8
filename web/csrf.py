"""CSRF protection for every HTML form: a per-session token that each unsafe request must echo."""

from __future__ import annotations

import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.limits import FORM_FIELDS
from web.sessions import browser_session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    """This session's CSRF token: bound to its key, so a new session (sign-in) has a new one."""
    return browser_session(request.scope).csrf_token()


async def read_form(request: Request) -> FormData:
    """The request's form, after checking its CSRF token (403 if missing or wrong).

    Every HTML POST handler reads its form through here; a test walks all HTML routes and
    checks that each refuses a post without the token. htmx requests may send the token in
    the X-CSRF-Token header instead.
    """
    form = await request.form(max_fields=FORM_FIELDS)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = csrf_token(request) if browser_session(request.scope).key else ""
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        await form.close()  # uploaded files of a refused form are dropped at once
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this site; reload and try again.",
        )
    return form
