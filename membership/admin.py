"""Membership's admin pages: windows with their numbers, members, grants, revokes, refunds."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from errors import DomainError, ValidationError
from membership import benefits, grants, schemas, services, windows
from web.auth import require_admin
from web.csrf import read_form
from web.decoding import read_query
from web.forms import (
    Fields,
    beijing_time,
    csv_download,
    field_errors,
    whole_number,
    yuan_to_fen,
)
from web.rendering import SHANGHAI, flash, gettext_for, redirect_after_post, render


async def dashboard(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    await require_admin(request)
    now = datetime.now(UTC)
    all_windows = await windows.all_windows()
    rows = [
        {
            "window": window,
            "state": windows.window_state(window, now).value,
            "closes_at": windows.closing_time(window),
            "stats": await windows.window_stats(window, now=now),
        }
        for window in all_windows
    ]
    query = read_query(request, schemas.MembersQuery).q
    return await render(
        request,
        "membership/admin.html",
        {
            "rows": rows,
            "members": await grants.search_members(query=query, now=now),
            "q": query,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=422 if errors else 200,
    )


async def create_window(request: Request) -> Response:
    await require_admin(request)
    form = await read_form(request)
    text = {key: str(form.get(key, "")) for key in ("name", "price_yuan", "seats", "opens_at",
                                                     "closes_at", "term_days", "benefits",
                                                     "faq")}  # fmt: skip
    fields = Fields()  # every field read before anything is refused
    price_fen = fields.read(lambda: yuan_to_fen("price_yuan", text["price_yuan"]))
    seats = fields.read(lambda: whole_number("seats", text["seats"]))
    opens_at = fields.read(lambda: beijing_time("opens_at", text["opens_at"]))
    closes_at = fields.read(lambda: beijing_time("closes_at", text["closes_at"]))
    term = fields.read(lambda: whole_number("term_days", text["term_days"], default=365))
    faq = fields.read(lambda: benefits.faq_from_text(text["faq"]))
    try:
        fields.check()
        await windows.create_window(
            name=text["name"],
            price_fen=price_fen,  # type: ignore[arg-type]  # checked above
            seats=seats,  # type: ignore[arg-type]
            opens_at=opens_at,  # type: ignore[arg-type]
            closes_at=closes_at,  # type: ignore[arg-type]
            term_days=term,  # type: ignore[arg-type]
            benefits=benefits.benefits_from_text(text["benefits"]),
            faq=faq,  # type: ignore[arg-type]
            now=datetime.now(UTC),
        )
    except ValidationError as exc:
        return await dashboard(request, errors=field_errors(exc), values=text)
    except DomainError as exc:
        return await dashboard(request, errors={"form": exc.message}, values=text)
    flash(request, gettext_for(request)("The window was created."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


async def change_window(request: Request) -> Response:
    await require_admin(request)
    form = await read_form(request)
    now = datetime.now(UTC)
    window_id = request.path_params["id"]
    if form.get("action") == "close":
        await windows.close_window(window_id, now=now)
    else:
        await windows.update_window(
            window_id, now=now, closes_at=beijing_time("closes_at", str(form.get("closes_at")))
        )
    flash(request, gettext_for(request)("The window was changed."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


async def window_enrollments(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """A window's enrollments, and the form for its benefits and FAQ."""
    await require_admin(request)
    window = await windows.get_window(request.path_params["id"])
    enrollments = await services.enrollments_in(window)
    written = {
        "benefits": "\n".join(window.benefits),
        "faq": benefits.faq_to_text(benefits.faq_of(window.faq)),
    }
    return await render(
        request,
        "membership/admin_window.html",
        {
            "window": window,
            "enrollments": enrollments,
            "errors": errors or {},
            "values": values or written,
        },
        status_code=422 if errors else 200,
    )


async def describe_window(request: Request) -> Response:
    """The window's benefits and FAQ, written as text (membership.benefits reads it)."""
    await require_admin(request)
    form = await read_form(request)
    text = {key: str(form.get(key, "")) for key in ("benefits", "faq")}
    window_id = request.path_params["id"]
    try:
        await windows.update_window(
            window_id,
            now=datetime.now(UTC),
            benefits=benefits.benefits_from_text(text["benefits"]),
            faq=benefits.faq_from_text(text["faq"]),
        )
    except ValidationError as exc:
        return await window_enrollments(request, errors=field_errors(exc), values=text)
    flash(
        request, gettext_for(request)("The window's benefits and questions were saved."), "success"
    )
    return redirect_after_post(
        request, links.path("membership.admin.window_enrollments", id=window_id)
    )


async def refund(request: Request) -> Response:
    await require_admin(request)
    await read_form(request)
    enrollment = await services.refund_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refunded; the membership has ended."), "success")
    return redirect_after_post(
        request,
        links.path(
            "membership.admin.window_enrollments",
            id=enrollment.window_id,  # type: ignore[attr-defined]
        ),
    )


async def grant(request: Request) -> Response:
    admin = await require_admin(request)
    form = await read_form(request)
    user = await grants.user_named(str(form.get("who", "")))
    await grants.grant_complimentary(
        user_id=user.id,
        days=whole_number("days", str(form.get("days", ""))),
        granted_by=admin,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Membership granted."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


async def revoke(request: Request) -> Response:
    await require_admin(request)
    await read_form(request)
    await grants.revoke_membership(user_id=request.path_params["user_id"], now=datetime.now(UTC))
    flash(request, gettext_for(request)("Membership revoked."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


async def members_csv(request: Request) -> Response:
    await require_admin(request)
    now = datetime.now(UTC)
    rows = await grants.search_members(
        query=read_query(request, schemas.MembersQuery).q, now=now, limit=100_000
    )
    return csv_download(
        "members.csv",
        ["number", "email", "display_name", "member_since", "valid_until", "valid"],
        (
            [
                f"SY-{row.number:06d}",
                row.user.email,
                row.user.display_name,
                row.since.astimezone(SHANGHAI).isoformat(),
                row.user.member_until.astimezone(SHANGHAI).isoformat()
                if row.user.member_until
                else "",
                "yes" if row.valid else "no",
            ]
            for row in rows
        ),
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/membership/admin", dashboard, methods=["GET"], name="membership.admin.dashboard"),
        Route(
            "/membership/admin/windows",
            create_window,
            methods=["POST"],
            name="membership.admin.create_window",
        ),
        Route(
            "/membership/admin/windows/{id:id}",
            window_enrollments,
            methods=["GET"],
            name="membership.admin.window_enrollments",
        ),
        Route(
            "/membership/admin/windows/{id:id}/benefits",
            describe_window,
            methods=["POST"],
            name="membership.admin.describe_window",
        ),
        Route(
            "/membership/admin/windows/{id:id}/change",
            change_window,
            methods=["POST"],
            name="membership.admin.change_window",
        ),
        Route(
            "/membership/admin/enrollments/{id:id}/refund",
            refund,
            methods=["POST"],
            name="membership.admin.refund",
        ),
        Route("/membership/admin/grants", grant, methods=["POST"], name="membership.admin.grant"),
        Route(
            "/membership/admin/members/{user_id:id}/revoke",
            revoke,
            methods=["POST"],
            name="membership.admin.revoke",
        ),
        Route(
            "/membership/admin/members.csv",
            members_csv,
            methods=["GET"],
            name="membership.admin.members_csv",
        ),
    ]
