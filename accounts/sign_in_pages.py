"""The account's ways in, as pages: removing one (never the last: accounts.sign_in_methods
decides) and adding an email and a password to an account made with WeChat or a phone. The
account page lists them (accounts.routes.account_page)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import sign_in_methods
from errors import DomainError, ValidationError
from web.auth import require_user
from web.csrf import read_form
from web.errors import form_refused
from web.forms import field_errors
from web.rendering import flash, gettext_for, redirect_after_post, render


async def remove_sign_in_method(request: Request) -> Response:
    """Remove one way in; refusing the last one is the service's (a 409, shown as a flash on
    the account page like every refused form)."""
    user = await require_user(request)
    form = await read_form(request)
    raw_id = str(form.get("identity_id", ""))
    if raw_id and not raw_id.isdigit():
        raise ValidationError("identity_id", "must be a number")
    await sign_in_methods.remove(
        user,
        request.path_params["kind"],
        int(raw_id) if raw_id else None,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("That way to sign in has been removed."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def add_email_page(request: Request) -> Response:
    """An email and a password for an account without a password: both then sign it in."""
    user = await require_user(request)
    context = {"user": user, "errors": {}, "values": {"email": user.email or ""}}
    if request.method in ("GET", "HEAD"):
        return await render(request, "accounts/add_email.html", context)
    form = await read_form(request)
    email = user.email or str(form.get("email", ""))[:320]
    try:
        await sign_in_methods.add_email_and_password(
            user, email, str(form.get("password", "")), now=datetime.now(UTC)
        )
    except DomainError as exc:
        context |= {"errors": field_errors(exc), "values": {"email": email}}
        return await form_refused(request, "accounts/add_email.html", context, exc)
    _ = gettext_for(request)
    flash(request, _("Saved. A link to verify your address is on its way to it."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/account/sign-in-methods/{kind:str}/remove",
            remove_sign_in_method,
            methods=["POST"],
            name="accounts.remove_sign_in_method",
        ),
        Route(
            "/account/email",
            add_email_page,
            methods=["GET", "POST"],
            name="accounts.add_email_page",
        ),
    ]
