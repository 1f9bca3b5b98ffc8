"""CSRF protection for every HTML form: a per-session token that each unsafe request must echo.

The token a page carries is masked afresh for each response (a random mask, then the mask
XOR the token, base64url), so a compressed page never repeats the same secret bytes and its
size says nothing of them (BREACH); any masking of the session's token is accepted.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.limits import FORM_FIELDS
from web.sessions import browser_session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    """This session's CSRF token, masked afresh: bound to the session's key, so a new session
    (sign-in) has a new one; two pages of one session carry different strings."""
    return mask(browser_session(request.scope).csrf_token())


def mask(token: str) -> str:
    """`token` (hex) under a fresh random mask: base64url(mask + (mask XOR token))."""
    raw = bytes.fromhex(token)
    pad = secrets.token_bytes(len(raw))
    masked = pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True))
    return base64.urlsafe_b64encode(masked).decode().rstrip("=")


def unmask(sent: str) -> bytes | None:
    """The token a masked string carries; None when it is not one (wrong length or alphabet)."""
    if len(sent) > MAX_MASKED:
        return None
    try:
        masked = base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4))
    except (binascii.Error, ValueError):
        return None
    half, odd = divmod(len(masked), 2)
    if odd or not half:
        return None
    return bytes(a ^ b for a, b in zip(masked[:half], masked[half:], strict=True))


MAX_MASKED = 200  # a masked token is 86 characters; anything much longer is not one


async def read_form(request: Request) -> FormData:
    """The request's form, after checking its CSRF token (403 if missing or wrong).

    Every HTML POST handler reads its form through here; a test walks all HTML routes and
    checks that each refuses a post without the token. htmx requests may send the token in
    the X-CSRF-Token header instead.
    """
    form = await request.form(max_fields=FORM_FIELDS)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    session = browser_session(request.scope)
    expected = bytes.fromhex(session.csrf_token()) if session.key else b""
    carried = unmask(sent) if isinstance(sent, str) else None
    if not expected or carried is None or not secrets.compare_digest(carried, expected):
        await form.close()  # uploaded files of a refused form are dropped at once
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this site; reload and try again.",
        )
    return form
