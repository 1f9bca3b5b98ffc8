"""Phone sign-in's pages: sign in with a mainland mobile number and a code sent by SMS, and add
a number to the signed-in account. Two steps on one page each (the number, then the code),
plain forms that work without JavaScript; the rules are accounts.phones'."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import devices, phones
from accounts.routes import safe_next, signed_in_response
from errors import DomainError
from web.auth import client_address, require_user
from web.csrf import read_form
from web.errors import form_refused
from web.forms import field_errors
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, redirect_after_post, render
from web.sessions import browser_session

LOGIN = "accounts/login_phone.html"
ADD = "accounts/phone_add.html"


def _offered(request: Request) -> None:
    """Phone sign-in's pages exist only where an SMS gateway is configured (settings.sms)."""
    if request.app.state.settings.sms is None:
        raise HTTPException(status_code=404)


async def _refused(
    request: Request, template: str, context: dict[str, Any], exc: DomainError
) -> Response:
    """Either page's refusal: a refused code shown at the code's field, a refused number at
    the number's (back to step 1), others as the form's."""
    context["errors"] = {"code": exc.message} if exc.status == 401 else field_errors(exc)
    if "phone" in context["errors"]:
        context["with_code"] = False
    return await form_refused(request, template, context, exc)


def _browser(request: Request) -> str:
    """Who asked for a code, for the pages: this browser (its session's CSRF token, which
    stays when the phone moves from Wi-Fi to mobile data), not its address."""
    return "browser:" + browser_session(request.scope).csrf_token()


async def _send_code(request: Request, phone: str) -> None:
    settings = request.app.state.settings
    await phones.request_code(
        phone,
        address=client_address(request),
        counter=request.app.state.counter,
        sender=request.app.state.sms_sender,
        secret_key=settings.secret_key,
        now=datetime.now(UTC),
        device_token=request.cookies.get(devices.DEVICE_COOKIE),
        budget=settings.sms_daily_budget,
        browser=_browser(request),
    )


async def login_phone_page(request: Request) -> Response:
    """Step 1: the number (POST without a code texts one). Step 2: the code (POST with it signs
    in, and keeps the device token in its cookie as the password's sign-in does)."""
    _offered(request)
    next_url = safe_next(request.query_params.get("next"))
    context: dict[str, Any] = {"errors": {}, "phone": "", "next": next_url, "with_code": False}
    if request.method in ("GET", "HEAD"):
        return await render(request, LOGIN, context)
    form = await read_form(request)
    phone = str(form.get("phone", ""))[:40].strip()
    code = str(form.get("code", ""))[:20].strip()
    context.update(phone=phone, next=safe_next(str(form.get("next", "")) or next_url))
    try:
        if "code" not in form:
            await _send_code(request, phone)
            context.update(with_code=True, code_sent=True)
            return await render(request, LOGIN, context)
        context["with_code"] = True
        signed_in = await phones.sign_in_with_code(
            phone,
            code,
            address=client_address(request),
            counter=request.app.state.counter,
            secret_key=request.app.state.settings.secret_key,
            now=datetime.now(UTC),
            device_token=request.cookies.get(devices.DEVICE_COOKIE),
            locale=choose_locale(request),
            browser=_browser(request),
        )
    except DomainError as exc:
        return await _refused(request, LOGIN, context, exc)
    return await signed_in_response(
        request, signed_in.user, context["next"], signed_in.device_token
    )


async def add_phone_page(request: Request) -> Response:
    """Add a number to the signed-in account: the number, then the code texted to it."""
    _offered(request)
    user = await require_user(request)
    context: dict[str, Any] = {"errors": {}, "phone": "", "with_code": False}
    if request.method in ("GET", "HEAD"):
        return await render(request, ADD, context)
    form = await read_form(request)
    phone = str(form.get("phone", ""))[:40].strip()
    context["phone"] = phone
    try:
        if "code" not in form:
            await _send_code(request, phone)
            context.update(with_code=True, code_sent=True)
            return await render(request, ADD, context)
        context["with_code"] = True
        await phones.add_phone(
            user,
            phone,
            str(form.get("code", ""))[:20],
            address=client_address(request),
            counter=request.app.state.counter,
            secret_key=request.app.state.settings.secret_key,
            now=datetime.now(UTC),
            browser=_browser(request),
        )
    except DomainError as exc:
        return await _refused(request, ADD, context, exc)
    flash(request, gettext_for(request)("This number now signs you in."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/account/login/phone",
            login_phone_page,
            methods=["GET", "POST"],
            name="accounts.login_phone_page",
        ),
        Route(
            "/account/phone/add",
            add_phone_page,
            methods=["GET", "POST"],
            name="accounts.add_phone_page",
        ),
    ]
