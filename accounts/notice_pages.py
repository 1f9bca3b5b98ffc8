"""The pages of what a person is told: the inbox (notifications and the nav's unread badge),
the choice of how each kind of notice comes, and a mail's one-click unsubscribe."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import notices, schemas, services
from accounts.models import User
from errors import DomainError
from web.auth import require_user
from web.csrf import read_form
from web.decoding import read_query
from web.errors import in_reader_language
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, is_htmx, redirect_after_post, render

INBOX_PAGE = 30


async def _inbox(
    request: Request, user: User, before_id: int | None = None, *, fragment: str | None = None
) -> Response:
    page = await services.list_notifications(user, limit=INBOX_PAGE, before_id=before_id)
    return await render(
        request,
        "accounts/notifications.html",
        {"notifications": page, "next_before": page[-1].id if len(page) == INBOX_PAGE else None},
        fragment=fragment,
    )


async def notifications_page(request: Request) -> Response:
    user = await require_user(request)
    cursor = read_query(request, schemas.InboxQuery).before
    return await _inbox(request, user, int(cursor) if cursor else None)


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
    return await _inbox(request, user, fragment="accounts/_inbox.html")


async def unread_badge(request: Request) -> Response:
    """The nav's unread count, polled by htmx."""
    return await render(request, "accounts/_unread_badge.html")


async def notices_page(request: Request) -> Response:
    """What a person is told, and how: per kind, inbox only, inbox and mail, or nothing."""
    user = await require_user(request)
    if request.method == "POST":
        form = await read_form(request)
        wanted = {
            key.removeprefix("kind-"): value
            for key, value in form.items()
            if key.startswith("kind-") and isinstance(value, str)
        }
        await notices.choose_each(user, wanted, locale=choose_locale(request))
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
        # The page's own form, saying the link is not ours: a mail client's one click (a POST)
        # hears 422 here, not a redirect to a page it cannot show.
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


# POST routes that take no CSRF token, and why: see each handler.
CSRF_EXEMPT = frozenset({"accounts.unsubscribe"})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
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
        Route(
            "/account/notices", notices_page, methods=["GET", "POST"], name="accounts.notices_page"
        ),
        Route(
            "/mail/unsubscribe/{token:str}",
            unsubscribe,
            methods=["GET", "POST"],
            name="accounts.unsubscribe",
        ),
    ]
