"""Accounts' pages: register, sign in and out, password, email verification, the inbox and
what a person is told (notices, unsubscribe), language."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from tortoise.transactions import in_transaction

import links
from accounts import (
    devices,
    notices,
    profiles,
    resets,
    schemas,
    services,
    sessions,
    verification,
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
from web.decoding import read_fields, read_query
from web.errors import in_reader_language
from web.forms import field_errors
from web.i18n import LOCALE_COOKIE, SUPPORTED_LOCALES, choose_locale
from web.rendering import flash, gettext_for, is_htmx, redirect_after_post, render


def _safe_next(url: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect), and only ones a
    Location header can carry (printable, bounded)."""
    if not url or len(url) > 500 or not url.isprintable():
        return links.path("site.home")
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return links.path("site.home")
    return url


async def register_page(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        return await render(request, "accounts/register.html", {"errors": {}, "values": {}})
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
        )
    except DomainError as exc:
        return await render(
            request,
            "accounts/register.html",
            {"errors": field_errors(exc), "values": values},
            status_code=exc.status,
        )
    sign_in(request, user)
    flash(request, gettext_for(request)("Welcome to Shuyuan!"), "success")
    return redirect_after_post(request, links.path("site.home"))


async def login_page(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if request.method in ("GET", "HEAD"):
        return await render(
            request, "accounts/login.html", {"errors": {}, "values": {}, "next": next_url}
        )
    form = await read_form(request)
    next_url = _safe_next(str(form.get("next", "")) or next_url)
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
        response = await render(
            request,
            "accounts/login.html",
            {
                "errors": field_errors(exc),
                "values": {"email": email},
                "next": next_url,
                # Refused on this address: a code mailed to the account gets past it.
                "offer_code": bool(exc.details.get("code_by_mail")),
                "with_code": bool(code),
            },
            status_code=exc.status,
        )
        if "retry_after" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response
    sign_in(request, result.user)
    signed_in = redirect_after_post(request, next_url)
    signed_in.set_cookie(
        devices.DEVICE_COOKIE,
        result.device_token,
        max_age=int(devices.DEVICE_FOR.total_seconds()),
        path=links.path("accounts.login_page"),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",  # as the session cookie
    )
    await _remember_language(request, result.user, signed_in)
    return signed_in


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
            "next": _safe_next(str(form.get("next", ""))),
            "with_code": True,
            "code_sent": True,
        },
    )


async def _remember_language(request: Request, user: User, response: Response) -> None:
    """Signing in brings the account's language to this browser; an account that has none
    yet keeps the one this browser chose."""
    if user.locale in SUPPORTED_LOCALES:
        _set_language_cookie(response, user.locale)
    elif request.cookies.get(LOCALE_COOKIE) in SUPPORTED_LOCALES:
        await User.filter(id=user.id).update(locale=request.cookies[LOCALE_COOKIE])


def _set_language_cookie(response: Response, locale: str) -> None:
    response.set_cookie(
        LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True
    )


async def logout(request: Request) -> Response:
    await read_form(request)
    sign_out(request)
    return redirect_after_post(request, links.path("site.home"))


async def account_page(request: Request) -> Response:
    user = await require_user(request)
    open_sessions = await sessions.open_sessions(
        user, current_session_id=current_session_id(request)
    )
    return await render(
        request, "accounts/account.html", {"user": user, "open_sessions": open_sessions}
    )


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
        return await render(
            request, "accounts/password.html", {"errors": errors}, status_code=exc.status
        )
    flash(request, gettext_for(request)("Your password has been changed."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def notifications_page(request: Request) -> Response:
    user = await require_user(request)
    cursor = read_query(request, schemas.InboxQuery).before
    before_id = int(cursor) if cursor else None
    page = await services.list_notifications(user, limit=30, before_id=before_id)
    return await render(
        request,
        "accounts/notifications.html",
        {"notifications": page, "next_before": page[-1].id if len(page) == 30 else None},
    )


async def read_notification(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    await services.mark_read(user, request.path_params["id"], now=datetime.now(UTC))
    return await _after_inbox_change(request, user)


async def read_all_notifications(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    await services.mark_all_read(user, now=datetime.now(UTC))
    return await _after_inbox_change(request, user)


async def _after_inbox_change(request: Request, user: User) -> Response:
    """htmx swaps the refreshed inbox (and the nav badge) in place; a plain form goes back."""
    if not is_htmx(request):
        return redirect_after_post(request, links.path("accounts.notifications_page"))
    page = await services.list_notifications(user, limit=30)
    return await render(
        request,
        "accounts/notifications.html",
        {"notifications": page, "next_before": page[-1].id if len(page) == 30 else None},
        fragment="accounts/_inbox.html",
    )


async def unread_badge(request: Request) -> Response:
    """The nav's unread count, polled by htmx."""
    return await render(request, "accounts/_unread_badge.html")


async def choose_language(request: Request) -> Response:
    """The language switch: kept in a cookie, and on the account of whoever is signed in."""
    locale = request.path_params["locale"]
    back = _safe_next(request.query_params.get("next"))
    response = RedirectResponse(back, status_code=303)
    if locale in SUPPORTED_LOCALES:
        _set_language_cookie(response, locale)
        user = await current_user(request)
        if user is not None and user.locale != locale:
            await User.filter(id=user.id).update(locale=locale)
    return response


async def verify_email(request: Request) -> Response:
    """A verification link from a mail (GET: opened from a mail client)."""
    _ = gettext_for(request)
    try:
        await verification.verify(request.path_params["token"], now=datetime.now(UTC))
    except DomainError as exc:
        return await render(
            request,
            "accounts/verified.html",
            {"ok": False, "message": in_reader_language(request, exc)},
            status_code=exc.status,
        )
    return await render(
        request,
        "accounts/verified.html",
        {"ok": True, "message": _("Your email address is verified.")},
    )


async def resend_verification(request: Request) -> Response:
    await read_form(request)
    user = await require_user(request)
    async with in_transaction():
        await verification.send_verification(user, now=datetime.now(UTC))
    flash(request, gettext_for(request)("A new link is on its way to your inbox."), "success")
    return redirect_after_post(request, links.path("accounts.account_page"))


async def notices_page(request: Request) -> Response:
    """What a person is told, and how: per kind, inbox only, inbox and mail, or nothing."""
    user = await require_user(request)
    if request.method == "POST":
        form = await read_form(request)
        for name, _kind, _channel in await notices.choices(user):
            wanted = form.get(f"kind-{name}")
            if isinstance(wanted, str) and wanted:
                await notices.choose(user, name, wanted)
        flash(request, gettext_for(request)("Saved."), "success")
        return redirect_after_post(request, links.path("accounts.notices_page"))
    return await render(
        request,
        "accounts/notices.html",
        {"user": user, "choices": await notices.choices(user)},
    )


async def unsubscribe(request: Request) -> Response:
    """A mail's one-click unsubscribe (RFC 8058). GET shows what the link stops and a button;
    POST (the button, or a mail client's "List-Unsubscribe=One-Click") stops it: that kind
    comes to the inbox only. No CSRF token: the link's signature proves where it came from,
    and all it can do is stop mail."""
    token = request.path_params["token"]
    _ = gettext_for(request)
    try:
        _user_id, kind = notices.read_unsubscribe(token)
    except DomainError as exc:
        return await render(
            request,
            "accounts/unsubscribe.html",
            {"ok": False, "message": in_reader_language(request, exc, with_field=False)},
            status_code=exc.status,
        )
    label = _(notices.kinds()[kind].label)
    if request.method == "POST":
        await request.body()  # the one-click body, or the button's form: nothing in it counts
        await notices.unsubscribe(token)
        return await render(
            request, "accounts/unsubscribe.html", {"ok": True, "done": True, "label": label}
        )
    return await render(
        request,
        "accounts/unsubscribe.html",
        {"ok": True, "done": False, "label": label, "token": token},
    )


async def profile_page(request: Request) -> Response:
    """A person's public page: avatar, name, bio."""
    person = await User.get_or_none(id=request.path_params["id"])
    if person is None:
        raise HTTPException(status_code=404)
    return await render(request, "accounts/profile.html", {"person": person})


async def profile_by_name(request: Request) -> Response:
    """Where an @mention links: the page of the person with that display name."""
    person = await User.filter(display_name=request.path_params["name"][:40]).order_by("id").first()
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
        await profiles.update_profile(user, display_name=values["display_name"], bio=values["bio"])
        if picture:
            await profiles.set_avatar(
                user,
                picture,
                media_dir=request.app.state.settings.var_dir / "media",
                pictures=request.app.state.pictures,
                counter=request.app.state.counter,
            )
    except DomainError as exc:
        return await render(
            request,
            "accounts/profile_edit.html",
            {"user": user, "values": values, "errors": field_errors(exc)},
            status_code=exc.status,
        )
    flash(request, gettext_for(request)("Saved."), "success")
    return redirect_after_post(request, links.path("accounts.profile_page", id=user.id))


# POST routes that take no CSRF token, and why: see each handler.
CSRF_EXEMPT = frozenset({"accounts.unsubscribe"})


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
        return await render(
            request,
            "accounts/reset.html",
            {"token": token, "errors": field_errors(exc)},
            status_code=exc.status,
        )
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
        Route(
            "/account/notifications",
            notifications_page,
            methods=["GET"],
            name="accounts.notifications_page",
        ),
        Route(
            "/account/notifications/{id:id}/read",
            read_notification,
            methods=["POST"],
            name="accounts.read_notification",
        ),
        Route(
            "/account/notifications/read-all",
            read_all_notifications,
            methods=["POST"],
            name="accounts.read_all_notifications",
        ),
        Route("/account/unread", unread_badge, methods=["GET"], name="accounts.unread_badge"),
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
            "/account/notices", notices_page, methods=["GET", "POST"], name="accounts.notices_page"
        ),
        Route(
            "/mail/unsubscribe/{token:str}",
            unsubscribe,
            methods=["GET", "POST"],
            name="accounts.unsubscribe",
        ),
        Route(
            "/account/profile", edit_profile, methods=["GET", "POST"], name="accounts.edit_profile"
        ),
        Route("/people/{id:id}", profile_page, methods=["GET"], name="accounts.profile_page"),
        Route(
            "/people/@{name:str}", profile_by_name, methods=["GET"], name="accounts.profile_by_name"
        ),
    ]
