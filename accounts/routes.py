"""Accounts' pages: register, sign in and out, sessions, password, email verification,
profiles, language. What a person is told (the inbox, notices, unsubscribe) has its pages in
accounts.notice_pages."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts import (
    account_parts,
    browsers,
    consents,
    devices,
    leaving,
    legal_documents,
    notice_pages,
    profiles,
    resets,
    schemas,
    services,
    sessions,
    sign_in_hooks,
    sign_in_methods,
    sign_in_pages,
    verification,
    wechat,
)
from accounts.models import User
from errors import DomainError, ValidationError
from web.auth import (
    client_address,
    current_session_id,
    current_user,
    require_user,
    sign_in,
    sign_out,
)
from web.csrf import read_form
from web.decoding import read_fields
from web.errors import form_errors, form_refused
from web.forms import field_errors
from web.i18n import LOCALE_COOKIE, choose_locale
from web.rendering import flash, gettext_for, redirect_after_post, render


def safe_next(url: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect), and only ones a
    Location header can carry (printable, bounded)."""
    if not url or len(url) > 500 or not url.isprintable():
        return links.path("site.home")
    parts = urlsplit(url)
    # Browsers read "/\\host" as "//host": a backslash is refused anywhere in it.
    if (
        parts.scheme
        or parts.netloc
        or not url.startswith("/")
        or url.startswith("//")
        or "\\" in url
    ):
        return links.path("site.home")
    return url


def _ways_in(request: Request) -> dict[str, bool]:
    """Which other ways to sign in this site is set up for (docs/configuration.md): the
    sign-in page offers them, the account page offers adding them."""
    settings = request.app.state.settings
    return {"wechat_offered": wechat.offered(settings), "phone_offered": settings.sms is not None}


def _version(value: object) -> int | None:
    """A ticked box's version (its value); None when not ticked or not a number."""
    text = str(value or "")
    return int(text) if text.isdecimal() and len(text) < 8 else None


async def register_page(request: Request) -> Response:
    # Once the terms and the privacy policy are published, the form asks to agree to them.
    versions = await legal_documents.current_versions()
    if request.method in ("GET", "HEAD"):
        return await render(
            request,
            "accounts/register.html",
            {"errors": {}, "values": {}, "versions": versions},
        )
    form = await read_form(request)
    values = {key: str(form.get(key, "")) for key in ("email", "display_name")}
    try:
        read_fields({**values, "password": str(form.get("password", ""))}, schemas.Registration)
        user = await services.register(
            email=values["email"],
            password=str(form.get("password", "")),
            display_name=values["display_name"],
            locale=choose_locale(request),
            address=client_address(request),
            counter=request.app.state.counter,
            agreement=consents.SignUpAgreement(
                terms=_version(form.get("terms")),
                privacy=_version(form.get("privacy")),
                age_14=str(form.get("age_14", "")) == "true",
            ),
            source="sign_up_page",
        )
    except DomainError as exc:
        context = {"errors": form_errors(request, exc), "values": values, "versions": versions}
        return await form_refused(request, "accounts/register.html", context, exc)
    sign_in(request, user)
    await sign_in_hooks.signed_in(request, user)
    flash(request, gettext_for(request)("Welcome to Shuyuan!"), "success")
    return redirect_after_post(request, links.path("site.home"))


async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.method in ("GET", "HEAD"):
        return await render(
            request,
            "accounts/login.html",
            {"errors": {}, "values": {}, "next": next_url, **_ways_in(request)},
        )
    form = await read_form(request)
    next_url = safe_next(str(form.get("next", "")) or next_url)
    email = str(form.get("email", ""))
    code = str(form.get("code", ""))[:20].strip()
    try:
        result = await services.authenticate(
            email=email,
            password=str(form.get("password", "")),
            address=client_address(request),
            counter=request.app.state.counter,
            secret_key=request.app.state.settings.secret_key,
            device_token=request.cookies.get(devices.DEVICE_COOKIE),
            login_code=code or None,
        )
    except DomainError as exc:
        context = {
            "errors": field_errors(exc),
            "values": {"email": email},
            "next": next_url,
            # Refused on this address: a code mailed to the account gets past it.
            "offer_code": bool(exc.details.get("code_by_mail")),
            "with_code": bool(code),
            **_ways_in(request),
        }
        return await form_refused(request, "accounts/login.html", context, exc)
    return await signed_in_response(request, result.user, next_url, result.device_token)


async def signed_in_response(
    request: Request, user: User, next_url: str, device_token: str | None = None
) -> Response:
    """Sign this browser in as `user` (a new session) and send it on to `next_url`, keeping
    the device token, if any, in its cookie (accounts.devices) and the account's language:
    the one end of every way of signing in (password, phone, WeChat), where a cancellation
    in its cooling-off is undone (accounts.leaving.come_back; AccountClosed after it)."""
    # A language chosen with the switch in this browser since its last sign-out wins.
    switched = request.session.get(SWITCHED) == request.cookies.get(LOCALE_COOKIE)
    # Signing in during a cancellation's cooling-off undoes it; after it, nobody signs in.
    came_back = await leaving.come_back(user, now=datetime.now(UTC))
    sign_in(request, user)
    await sign_in_hooks.signed_in(request, user)
    if came_back:
        _ = gettext_for(request)
        flash(request, _("Welcome back: your account is no longer being cancelled."), "success")
    response = redirect_after_post(request, next_url)
    if device_token:
        _keep_device_token(request, response, device_token)
    locale = await profiles.language_on_sign_in(
        user, request.cookies.get(LOCALE_COOKIE), switched=switched
    )
    if locale is not None:
        _set_language_cookie(response, locale)
    return response


def _keep_device_token(request: Request, response: Response, device_token: str) -> None:
    response.set_cookie(
        devices.DEVICE_COOKIE,
        device_token,
        max_age=int(devices.DEVICE_FOR.total_seconds()),
        # Every page that signs in or proves an account is under /account (the password's,
        # the phone's, WeChat's linking).
        path=links.path("accounts.account_page"),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",  # as the session cookie
    )


async def login_code_page(request: Request) -> Response:
    """Mail a one-time sign-in code (the same page whether or not the account exists), then
    the sign-in form with a field for it."""
    form = await read_form(request)
    email = str(form.get("email", ""))[:320]
    await devices.request_login_code(
        email=email,
        address=client_address(request),
        counter=request.app.state.counter,
        locale=choose_locale(request),
        now=datetime.now(UTC),
    )
    return await render(
        request,
        "accounts/login.html",
        {
            "errors": {},
            "values": {"email": email},
            "next": safe_next(str(form.get("next", ""))),
            "with_code": True,
            "code_sent": True,
            **_ways_in(request),
        },
    )


# The language this browser chose with the switch, kept in its session until it signs out.
SWITCHED = "switched_language"


def _set_language_cookie(response: Response, locale: str) -> None:
    response.set_cookie(
        LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True
    )


async def logout(request: Request) -> Response:
    await read_form(request)
    sign_out(request)
    return redirect_after_post(request, links.path("site.home"))


async def account_page(request: Request) -> Response:
    """The account's hub: who you are, links to what is yours elsewhere on the site (by route
    name: accounts imports no package above it), and where you are signed in."""
    user = await require_user(request)
    open_sessions = await sessions.open_sessions(
        user, current_session_id=current_session_id(request)
    )
    _ = gettext_for(request)
    named = [(s, browsers.device_name(s, _)) for s in open_sessions]
    return await render(
        request,
        "accounts/account.html",
        {
            "user": user,
            "open_sessions": named,
            "now": datetime.now(UTC),
            "parts": await account_parts.parts().shown(user),
            **_ways_in(request),
            "ways": await sign_in_methods.ways(user),
        },
    )


async def sign_out_elsewhere(request: Request) -> Response:
    """End every other session and every API token; this browser stays signed in."""
    user = await require_user(request)
    await read_form(request)
    await sessions.sign_out_everywhere_else(
        user, now=datetime.now(UTC), current_session_id=current_session_id(request)
    )
    flash(request, gettext_for(request)("You are signed out everywhere else."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def end_session(request: Request) -> Response:
    """End one of the account's sessions or tokens (the current one signs this browser out)."""
    user = await require_user(request)
    await read_form(request)
    session_id = request.path_params["session_id"]
    await sessions.end_open_session(user, session_id, now=datetime.now(UTC))
    _ = gettext_for(request)
    if session_id == f"s{current_session_id(request)}":
        sign_out(request)
        return redirect_after_post(request, links.path("site.home"))
    flash(request, _("That session has been ended."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def password_page(request: Request) -> Response:
    user = await require_user(request)
    if request.method in ("GET", "HEAD"):
        return await render(request, "accounts/password.html", {"errors": {}})
    form = await read_form(request)
    if not user.has_password:
        # Nothing to change: the page offers to set one (accounts.sign_in_pages).
        return await render(request, "accounts/password.html", {"errors": {}})
    try:
        await services.change_password(
            user,
            current_password=str(form.get("current_password", "")),
            new_password=str(form.get("new_password", "")),
            now=datetime.now(UTC),
            keep_session_id=current_session_id(request),  # this browser stays signed in
        )
    except DomainError as exc:
        errors = field_errors(exc)
        if exc.status == 401:
            errors = {"current_password": exc.message}
        return await form_refused(request, "accounts/password.html", {"errors": errors}, exc)
    flash(request, gettext_for(request)("Your password has been changed."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def choose_language(request: Request) -> Response:
    """The language switch: kept in a cookie, and on the account of whoever is signed in."""
    locale = request.path_params["locale"]
    back = safe_next(request.query_params.get("next"))
    response = RedirectResponse(back, status_code=303)
    if await profiles.choose_language(await current_user(request), locale):
        _set_language_cookie(response, locale)
        request.session[SWITCHED] = locale
    return response


async def verify_email(request: Request) -> Response:
    """A verification link from a mail (GET: opened from a mail client)."""
    # A link that is not ours or ran out: the one handler's page says why.
    await verification.verify(request.path_params["token"], now=datetime.now(UTC))
    _ = gettext_for(request)
    return await render(
        request,
        "accounts/verified.html",
        {"ok": True, "message": _("Your email address is verified.")},
    )


async def resend_verification(request: Request) -> Response:
    await read_form(request)
    user = await require_user(request)
    await verification.resend_verification(user, now=datetime.now(UTC))
    flash(request, gettext_for(request)("A new link is on its way to your inbox."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def profile_page(request: Request) -> Response:
    """A person's public page: avatar, name, bio."""
    person = await profiles.person(request.path_params["id"])
    if person is None:
        raise HTTPException(status_code=404)
    return await render(request, "accounts/profile.html", {"person": person})


async def profile_by_name(request: Request) -> Response:
    """Where an @mention links: the page of the person with that display name."""
    person = await profiles.person_named(request.path_params["name"])
    if person is None:
        raise HTTPException(status_code=404)
    return RedirectResponse(links.path("accounts.profile_page", id=person.id), status_code=302)


async def edit_profile(request: Request) -> Response:
    user = await require_user(request)
    values = {"display_name": user.display_name, "bio": user.bio}
    if request.method in ("GET", "HEAD"):
        return await render(
            request, "accounts/profile_edit.html", {"user": user, "values": values, "errors": {}}
        )
    form = await read_form(request)
    values = {key: str(form.get(key, "")) for key in ("display_name", "bio")}
    upload = form.get("avatar")
    try:
        picture = await upload.read() if isinstance(upload, UploadFile) else b""
        await form.close()
        now = datetime.now(UTC)
        await profiles.update_profile(
            user, display_name=values["display_name"], bio=values["bio"], now=now
        )
        if picture:
            await profiles.set_avatar(
                user,
                picture,
                pictures=request.app.state.pictures,
                counter=request.app.state.counter,
                now=now,
                review_days=request.app.state.settings.avatar_review_days,
            )
    except DomainError as exc:
        context = {"user": user, "values": values, "errors": form_errors(request, exc)}
        return await form_refused(request, "accounts/profile_edit.html", context, exc)
    flash(request, gettext_for(request)("Saved."), "success")
    return redirect_after_post(request, links.path("accounts.profile_page", id=user.id))


# POST routes that take no CSRF token, and why: see each handler.
CSRF_EXEMPT = notice_pages.CSRF_EXEMPT


async def forgot_page(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        return await render(request, "accounts/forgot.html", {"sent": False, "errors": {}})
    form = await read_form(request)
    await resets.request_reset(
        email=str(form.get("email", "")),
        address=client_address(request),
        counter=request.app.state.counter,
        locale=choose_locale(request),
        now=datetime.now(UTC),
    )
    return await render(request, "accounts/forgot.html", {"sent": True, "errors": {}})


async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    now = datetime.now(UTC)
    if request.method in ("GET", "HEAD"):
        await resets.reset_for(token, now=now)  # a used or expired link says so at once
        return await render(request, "accounts/reset.html", {"token": token, "errors": {}})
    form = await read_form(request)
    try:
        await resets.reset_password(token=token, password=str(form.get("password", "")), now=now)
    except ValidationError as exc:
        context = {"token": token, "errors": field_errors(exc)}
        return await form_refused(request, "accounts/reset.html", context, exc)
    flash(request, gettext_for(request)("Your new password is set; sign in with it."), "success")
    return redirect_after_post(request, links.path("accounts.login_page"))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/account", account_page, methods=["GET"], name="accounts.account_page"),
        Route(
            "/account/register",
            register_page,
            methods=["GET", "POST"],
            name="accounts.register_page",
        ),
        Route("/account/login", login_page, methods=["GET", "POST"], name="accounts.login_page"),
        Route(
            "/account/login/code",
            login_code_page,
            methods=["POST"],
            name="accounts.login_code_page",
        ),
        Route("/account/logout", logout, methods=["POST"], name="accounts.logout"),
        Route(
            "/account/sessions/end-others",
            sign_out_elsewhere,
            methods=["POST"],
            name="accounts.sign_out_elsewhere",
        ),
        Route(
            "/account/sessions/{session_id:str}/end",
            end_session,
            methods=["POST"],
            name="accounts.end_session",
        ),
        Route(
            "/account/password",
            password_page,
            methods=["GET", "POST"],
            name="accounts.password_page",
        ),
        Route("/account/forgot", forgot_page, methods=["GET", "POST"], name="accounts.forgot_page"),
        Route(
            "/account/reset/{token:str}",
            reset_page,
            methods=["GET", "POST"],
            name="accounts.reset_page",
        ),
        *notice_pages.routes(),
        *sign_in_pages.routes(),
        Route("/lang/{locale}", choose_language, methods=["GET"], name="accounts.choose_language"),
        Route(
            "/account/verify",
            resend_verification,
            methods=["POST"],
            name="accounts.resend_verification",
        ),
        Route(
            "/account/verify/{token:str}",
            verify_email,
            methods=["GET"],
            name="accounts.verify_email",
        ),
        Route(
            "/account/profile", edit_profile, methods=["GET", "POST"], name="accounts.edit_profile"
        ),
        Route("/people/{id:id}", profile_page, methods=["GET"], name="accounts.profile_page"),
        Route(
            "/people/@{name:str}", profile_by_name, methods=["GET"], name="accounts.profile_by_name"
        ),
    ]
