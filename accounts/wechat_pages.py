"""WeChat sign-in's pages: start, WeChat's return (callback), and the first sign-in page where
a new WeChat person creates an account or links one they prove is theirs (accounts.wechat_sign_in
holds the rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts import devices, link_codes, services
from accounts import wechat_sign_in as sign_in_with_wechat
from accounts.routes import safe_next, signed_in_response
from accounts.wechat import WechatClient
from errors import DomainError
from web.auth import client_address, current_user, require_user
from web.csrf import read_form
from web.errors import form_errors, form_refused
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, render

FINISH_TEMPLATE = "accounts/wechat_finish.html"


def client_for(request: Request) -> WechatClient:
    return WechatClient.from_settings(request.app.state.settings)


async def start(request: Request) -> Response:
    """GET: sign in with WeChat, then go to `next`. POST (a form on the account page, with
    its CSRF token): add WeChat to the signed-in account."""
    now = datetime.now(UTC)
    user_agent = request.headers.get("user-agent", "")
    if request.method == "POST":
        user = await require_user(request)
        await read_form(request)
        url = sign_in_with_wechat.start(
            request.session,
            client_for(request),
            user_agent=user_agent,
            next_path=links.path("accounts.account_page"),
            now=now,
            link_to=user,
        )
        return RedirectResponse(url, status_code=303)
    url = sign_in_with_wechat.start(
        request.session,
        client_for(request),
        user_agent=user_agent,
        next_path=safe_next(request.query_params.get("next")),
        now=now,
    )
    return RedirectResponse(url, status_code=302)


async def callback(request: Request) -> Response:
    """WeChat sends the browser back here with `code` and `state` (no code: declined)."""
    outcome = await sign_in_with_wechat.callback(
        request.session,
        client_for(request),
        state=request.query_params.get("state", ""),
        code=request.query_params.get("code") or None,
        signed_in=await current_user(request),
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    match outcome:
        case sign_in_with_wechat.GoToWechat(url=url):
            return RedirectResponse(url, status_code=302)
        case sign_in_with_wechat.SignedIn(user=user, next_path=next_path):
            return await signed_in_response(request, user, next_path)
        case sign_in_with_wechat.Linked(already=already, next_path=next_path):
            message = (
                _("This WeChat account already signs in to your account.")
                if already
                else _("You can now sign in with WeChat.")
            )
            flash(request, message, "success")
            return RedirectResponse(next_path, status_code=303)
        case sign_in_with_wechat.PayerKnown(next_path=next_path):
            return RedirectResponse(next_path, status_code=303)
        case sign_in_with_wechat.FirstSignIn():
            return RedirectResponse(links.path("accounts.wechat_finish"), status_code=303)
        case sign_in_with_wechat.Declined(purpose=purpose, next_path=next_path):
            flash(request, _("You did not allow signing in with WeChat."), "info")
            if purpose is not sign_in_with_wechat.Purpose.SIGN_IN:
                return RedirectResponse(next_path, status_code=303)
            login = links.path("accounts.login_page", _query={"next": next_path})
            return RedirectResponse(login, status_code=303)
    raise AssertionError(outcome)


async def _finish_page(
    request: Request,
    pending: sign_in_with_wechat.Pending,
    *,
    values: dict[str, str] | None = None,
    refused: DomainError | None = None,
    **extra: Any,
) -> Response:
    context = {
        "pending": pending,
        "values": {"display_name": await sign_in_with_wechat.suggested_name(pending)}
        | (values or {}),
        "errors": form_errors(request, refused) if refused else {},
        **extra,
    }
    if refused is not None:
        return await form_refused(request, FINISH_TEMPLATE, context, refused)
    return await render(request, FINISH_TEMPLATE, context)


async def finish(request: Request) -> Response:
    """The first sign-in page. GET: the two choices. POST: create the new account (display
    name, and WeChat's avatar unless unticked)."""
    now = datetime.now(UTC)
    if request.method in ("GET", "HEAD"):
        return await _finish_page(request, sign_in_with_wechat.pending(request.session, now))
    form = await read_form(request)  # the CSRF token first: a forged post is a 403
    pending = sign_in_with_wechat.pending(request.session, now)
    values = {"display_name": str(form.get("display_name", ""))[:200]}
    try:
        user = await sign_in_with_wechat.create_account(
            pending, display_name=values["display_name"], locale=choose_locale(request), now=now
        )
    except DomainError as exc:
        return await _finish_page(request, pending, values=values, refused=exc)
    if form.get("use_avatar") and not user.avatar_version:
        await sign_in_with_wechat.use_wechat_avatar(
            user,
            pending,
            client_for(request),
            pictures=request.app.state.pictures,
            counter=request.app.state.counter,
            now=now,
            review_days=request.app.state.settings.avatar_review_days,
        )
    response = await signed_in_response(request, user, pending.next_path)
    flash(request, gettext_for(request)("Welcome to Shuyuan!"), "success")
    return response


async def link_with_password(request: Request) -> Response:
    """Link the waiting WeChat person to the account whose email and password are given
    (services.authenticate, with all its limits)."""
    now = datetime.now(UTC)
    form = await read_form(request)
    pending = sign_in_with_wechat.pending(request.session, now)
    email = str(form.get("email", ""))[:320]
    try:
        result = await services.authenticate(
            email=email,
            password=str(form.get("password", "")),
            address=client_address(request),
            counter=request.app.state.counter,
            secret_key=request.app.state.settings.secret_key,
            device_token=request.cookies.get(devices.DEVICE_COOKIE),
            now=now,
        )
        await sign_in_with_wechat.link_pending(pending, result.user, now=now)
    except DomainError as exc:
        return await _finish_page(request, pending, values={"email": email}, refused=exc)
    return await _linked(request, result.user, pending, result.device_token)


async def request_link_code(request: Request) -> Response:
    """Mail a code to the account with this email (the same page whether or not it exists)."""
    now = datetime.now(UTC)
    form = await read_form(request)
    pending = sign_in_with_wechat.pending(request.session, now)
    email = str(form.get("email", ""))[:320]
    try:
        await link_codes.request_link_code(
            email=email,
            address=client_address(request),
            counter=request.app.state.counter,
            locale=choose_locale(request),
            now=now,
        )
    except DomainError as exc:
        return await _finish_page(request, pending, values={"email": email}, refused=exc)
    return await _finish_page(request, pending, values={"email": email}, code_sent=True)


async def link_with_code(request: Request) -> Response:
    """Link the waiting WeChat person to the account the mailed code was sent to."""
    now = datetime.now(UTC)
    form = await read_form(request)
    pending = sign_in_with_wechat.pending(request.session, now)
    email = str(form.get("email", ""))[:320]
    try:
        user = await link_codes.account_with_code(
            email=email,
            code=str(form.get("code", ""))[:20],
            address=client_address(request),
            counter=request.app.state.counter,
            now=now,
        )
        await sign_in_with_wechat.link_pending(pending, user, now=now)
    except DomainError as exc:
        values = {"email": email}
        return await _finish_page(request, pending, values=values, refused=exc, code_sent=True)
    return await _linked(request, user, pending)


async def _linked(
    request: Request,
    user: Any,
    pending: sign_in_with_wechat.Pending,
    device_token: str | None = None,
) -> Response:
    response = await signed_in_response(request, user, pending.next_path, device_token)
    flash(request, gettext_for(request)("You can now sign in with WeChat."), "success")
    return response


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/account/wechat/start", start, methods=["GET", "POST"], name="accounts.wechat_start"
        ),
        Route(
            "/account/wechat/callback",
            callback,
            methods=["GET"],
            name="accounts.wechat_callback",
        ),
        Route(
            "/account/wechat/finish",
            finish,
            methods=["GET", "POST"],
            name="accounts.wechat_finish",
        ),
        Route(
            "/account/wechat/finish/password",
            link_with_password,
            methods=["POST"],
            name="accounts.wechat_link_password",
        ),
        Route(
            "/account/wechat/finish/code-request",
            request_link_code,
            methods=["POST"],
            name="accounts.wechat_link_code_request",
        ),
        Route(
            "/account/wechat/finish/code",
            link_with_code,
            methods=["POST"],
            name="accounts.wechat_link_code",
        ),
    ]
