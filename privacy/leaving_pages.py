"""Leaving's pages: /me/leave says what cancelling an account does, explains the orders and
the membership first, asks for the proof (the password, or a code sent by mail or SMS) and a
confirmation; afterwards a page gives the date and how to come back. Plain forms that work
without JavaScript; the rules are privacy.leaving's and accounts.leaving's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import leaving as account_leaving
from accounts.models import User
from errors import DomainError, ValidationError
from privacy import leaving
from web.auth import require_user, sign_out
from web.csrf import read_form
from web.errors import form_errors, form_refused
from web.i18n import choose_locale
from web.rendering import redirect_after_post, render
from web.sessions import browser_session

PAGE = "privacy/leave.html"
# The moment the account is erased, kept in the signed-out browser's session for the page
# that says it (the account's own session ended with the request).
LEFT_UNTIL = "left_until"


async def _context(request: Request, user: User, **extra: Any) -> dict[str, Any]:
    settings = request.app.state.settings
    now = datetime.now(UTC)
    return {
        "user": user,
        "explained": await leaving.before_leaving(user, now=now),
        "way": await account_leaving.proof_way(user),
        "signed_in_recently": _signed_in_recently(request, now),
        "days": settings.leaving_days,
        "years": settings.order_retention_years,
        "errors": {},
        "code_sent": False,
        **extra,
    }


def _signed_in_recently(request: Request, now: datetime) -> bool:
    began = _signed_in_at(request)
    return began is not None and now - began <= account_leaving.RECENT_SIGN_IN


async def leave_page(request: Request) -> Response:
    """GET: what happens, what is explained first, the form. POST: cancel the account (the
    proof and the confirmation), sign this browser out, then the page that says when."""
    user = await require_user(request)
    if request.method in ("GET", "HEAD"):
        return await render(request, PAGE, await _context(request, user))
    form = await read_form(request)
    try:
        if form.get("confirm") != "yes":
            raise ValidationError("confirm", "tick the box to say you understand")
        erase_after = await leaving.leave(
            user,
            password=str(form.get("password", ""))[:1024] or None,
            code=str(form.get("code", ""))[:20].strip() or None,
            now=datetime.now(UTC),
            days=request.app.state.settings.leaving_days,
            counter=request.app.state.counter,
            provider=request.app.state.payments_provider,
            memory=request.app.state.memory.store,
            signed_in_at=_signed_in_at(request),
        )
    except DomainError as exc:
        errors = form_errors(request, exc)
        way = await account_leaving.proof_way(user)
        if exc.status == 403 and way.kind != "sign_in":  # the proof: shown at its field
            errors = {("password" if way.kind == "password" else "code"): exc.message}
        context = await _context(request, user, errors=errors, code_sent="code" in form)
        return await form_refused(request, PAGE, context, exc)
    sign_out(request)  # its session row is gone already: this browser forgets it
    request.session[LEFT_UNTIL] = erase_after.isoformat()
    return redirect_after_post(request, links.path("privacy.left_page"))


def _signed_in_at(request: Request) -> datetime | None:
    """When this browser signed in (its session began): a fresh WeChat sign-in proves a
    WeChat-only account's owner (accounts.leaving.RECENT_SIGN_IN)."""
    row = browser_session(request.scope).row
    return row.created_at if row is not None else None


async def leave_code(request: Request) -> Response:
    """Send a code to prove it is you (an account without a password), then the page with a
    field for it."""
    user = await require_user(request)
    await read_form(request)
    settings = request.app.state.settings
    try:
        await account_leaving.send_code(
            user,
            now=datetime.now(UTC),
            locale=choose_locale(request),
            counter=request.app.state.counter,
            sender=request.app.state.sms_sender if settings.sms is not None else None,
            sms_budget=settings.sms_daily_budget,
        )
    except DomainError as exc:
        context = await _context(request, user, errors={"code": exc.message})
        return await form_refused(request, PAGE, context, exc)
    return await render(request, PAGE, await _context(request, user, code_sent=True))


async def left_page(request: Request) -> Response:
    """After cancelling: the date the account is erased, and how to come back."""
    moment = request.session.get(LEFT_UNTIL)
    erase_after = datetime.fromisoformat(moment) if isinstance(moment, str) else None
    return await render(request, "privacy/left.html", {"erase_after": erase_after})


def routes() -> list[BaseRoute]:
    return [
        Route("/me/leave", leave_page, methods=["GET", "POST"], name="privacy.leave_page"),
        Route("/me/leave/code", leave_code, methods=["POST"], name="privacy.leave_code"),
        Route("/me/leave/done", left_page, methods=["GET"], name="privacy.left_page"),
    ]
