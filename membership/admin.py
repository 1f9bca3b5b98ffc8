"""The console's membership section at /admin/membership: enrollment windows with their
numbers, benefits and FAQ; the members (found by email or name, a page at a time, and as a
CSV); grants, revocations and enrollment refunds. Each action's audit entry is written by the
service it calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import audit
from accounts.roles import Capability
from errors import DomainError, ValidationError
from membership import benefits, grants, members, schemas, services, windows
from membership.models import Member
from web.auth import refuse_cross_site, staff_member, staff_only
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


@staff_only(Capability.MEMBERSHIP)
async def dashboard(request: Request) -> Response:
    return await _dashboard(request)


async def _dashboard(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
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
    query = read_query(request, schemas.MembersQuery)
    return await render(
        request,
        "membership/admin.html",
        {
            "rows": rows,
            "members": await members.members_page(
                query=query.q, now=now, current_only=query.who == "current", cursor=query.cursor
            ),
            "q": query.q,
            "who": query.who,
            "filters": _member_filters(query),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=422 if errors else 200,
    )


def _member_filters(query: schemas.MembersQuery) -> dict[str, str]:
    """The list's filters as a link's query (the CSV and the next page keep them)."""
    return {key: value for key, value in (("q", query.q), ("who", query.who)) if value != "current"}


@staff_only(Capability.MEMBERSHIP)
async def create_window(request: Request) -> Response:
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
            actor=staff_member(request),
        )
    except ValidationError as exc:
        return await _dashboard(request, errors=field_errors(exc), values=text)
    except DomainError as exc:
        return await _dashboard(request, errors={"form": exc.message}, values=text)
    flash(request, gettext_for(request)("The window was created."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


@staff_only(Capability.MEMBERSHIP)
async def change_window(request: Request) -> Response:
    form = await read_form(request)
    now = datetime.now(UTC)
    window_id = request.path_params["id"]
    actor = staff_member(request)
    if form.get("action") == "close":
        await windows.close_window(window_id, now=now, actor=actor)
    else:
        await windows.update_window(
            window_id,
            now=now,
            closes_at=beijing_time("closes_at", str(form.get("closes_at"))),
            actor=actor,
        )
    flash(request, gettext_for(request)("The window was changed."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


@staff_only(Capability.MEMBERSHIP)
async def window_enrollments(request: Request) -> Response:
    """A window's enrollments, and the form for its benefits and FAQ."""
    return await _window_enrollments(request)


async def _window_enrollments(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
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


@staff_only(Capability.MEMBERSHIP)
async def describe_window(request: Request) -> Response:
    """The window's benefits and FAQ, written as text (membership.benefits reads it)."""
    form = await read_form(request)
    text = {key: str(form.get(key, "")) for key in ("benefits", "faq")}
    window_id = request.path_params["id"]
    try:
        await windows.update_window(
            window_id,
            now=datetime.now(UTC),
            benefits=benefits.benefits_from_text(text["benefits"]),
            faq=benefits.faq_from_text(text["faq"]),
            actor=staff_member(request),
        )
    except ValidationError as exc:
        return await _window_enrollments(request, errors=field_errors(exc), values=text)
    flash(
        request, gettext_for(request)("The window's benefits and questions were saved."), "success"
    )
    return redirect_after_post(
        request, links.path("membership.admin.window_enrollments", id=window_id)
    )


@staff_only(Capability.REFUND)
async def refund(request: Request) -> Response:
    await read_form(request)
    enrollment = await services.refund_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    flash(request, gettext_for(request)("Refunded; the membership has ended."), "success")
    return redirect_after_post(
        request,
        links.path(
            "membership.admin.window_enrollments",
            id=enrollment.window_id,  # type: ignore[attr-defined]
        ),
    )


@staff_only(Capability.MEMBERSHIP)
async def grant(request: Request) -> Response:
    form = await read_form(request)
    user = await grants.user_named(str(form.get("who", "")))
    await grants.grant_complimentary(
        user_id=user.id,
        days=whole_number("days", str(form.get("days", ""))),
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    flash(request, gettext_for(request)("Membership granted."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


@staff_only(Capability.MEMBERSHIP)
async def revoke(request: Request) -> Response:
    await read_form(request)
    await grants.revoke_membership(
        user_id=request.path_params["user_id"], now=datetime.now(UTC), actor=staff_member(request)
    )
    flash(request, gettext_for(request)("Membership revoked."), "success")
    return redirect_after_post(request, links.path("membership.admin.dashboard"))


MEMBER_COLUMNS = ("id", "email", "display_name", "member_until", "joined")


async def _member_rows(found: AsyncIterator[Member]) -> AsyncIterator[list[object]]:
    async for member in found:
        until = member.user.member_until
        yield [
            member.user.id,
            member.user.email,
            member.user.display_name,
            until.astimezone(SHANGHAI).isoformat() if until else "",
            member.since.astimezone(SHANGHAI).isoformat(),
        ]


@staff_only(Capability.EXPORT)
async def members_csv(request: Request) -> Response:
    """The members the list shows (its filters, every page) as CSV, oldest card first,
    streamed a batch at a time; the export is itself an audit entry, written first."""
    refuse_cross_site(request)
    query = read_query(request, schemas.MembersQuery)
    now = datetime.now(UTC)
    await audit.record(
        actor=staff_member(request),
        action="export.members",
        object_type="member",
        after={"filters": {"q": query.q, "who": query.who}},
        now=now,
    )
    found = members.all_members(query=query.q, now=now, current_only=query.who == "current")
    return csv_download("members.csv", MEMBER_COLUMNS, _member_rows(found))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/membership", dashboard, methods=["GET"], name="membership.admin.dashboard"),
        Route(
            "/admin/membership/windows",
            create_window,
            methods=["POST"],
            name="membership.admin.create_window",
        ),
        Route(
            "/admin/membership/windows/{id:id}",
            window_enrollments,
            methods=["GET"],
            name="membership.admin.window_enrollments",
        ),
        Route(
            "/admin/membership/windows/{id:id}/benefits",
            describe_window,
            methods=["POST"],
            name="membership.admin.describe_window",
        ),
        Route(
            "/admin/membership/windows/{id:id}/change",
            change_window,
            methods=["POST"],
            name="membership.admin.change_window",
        ),
        Route(
            "/admin/membership/enrollments/{id:id}/refund",
            refund,
            methods=["POST"],
            name="membership.admin.refund",
        ),
        Route("/admin/membership/grants", grant, methods=["POST"], name="membership.admin.grant"),
        Route(
            "/admin/membership/members/{user_id:id}/revoke",
            revoke,
            methods=["POST"],
            name="membership.admin.revoke",
        ),
        Route(
            "/admin/membership/members.csv",
            members_csv,
            methods=["GET"],
            name="membership.admin.members_csv",
        ),
    ]
