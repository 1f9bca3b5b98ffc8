"""Membership's JSON API: windows (admins create them), enrollment, payment, waitlist, grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.models import User
from accounts.roles import Capability
from membership import analytics, grants, reminders, schemas, services, windows
from membership.models import Enrollment, EnrollmentWindow
from payments.checkout import api_choice, paid_with, site_origins
from web.api import iso, json_response, operation, read_json
from web.auth import api_user, bearer_token, staff_member, staff_only
from web.i18n import api_locale, translations


def window_json(window: EnrollmentWindow) -> dict[str, Any]:
    return {
        "id": window.id,
        "name": window.name,
        "price_fen": window.price_fen,
        "seats": window.seats,
        "opens_at": iso(window.opens_at),
        "closes_at": iso(windows.closing_time(window)),
        "term_days": window.term_days,
    }


async def enrollment_json(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "id": enrollment.id,
        "window_id": enrollment.window_id,  # type: ignore[attr-defined]
        "status": enrollment.status.value,
        "amount_fen": enrollment.amount_fen,
        "hold_expires_at": iso(enrollment.hold_expires_at),
        "payment_id": enrollment.payment_id,
        **await paid_with(enrollment.payment_id),
    }


@operation(
    "Create an enrollment window (admins)",
    body=schemas.NewWindow,
    answer=schemas.Window,
    status=201,
    auth="admin",
    tag="membership",
    errors={409: "window_overlap"},
)
@staff_only(Capability.MEMBERSHIP)
async def create_window(request: Request) -> Response:
    data = await read_json(request, schemas.NewWindow)
    window = await windows.create_window(
        name=data.name,
        price_fen=data.price_fen,
        seats=data.seats,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        term_days=data.term_days or windows.DEFAULT_TERM_DAYS,
        benefits=data.benefits,
        faq=[entry.checked() for entry in data.faq],
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    return json_response(window_json(window), 201)


@operation(
    "Edit a window before it opens, extend it, or close it now (admins)",
    body=schemas.WindowChange,
    answer=schemas.Window,
    auth="admin",
    tag="membership",
    errors={404: "window_not_found", 409: "window_started, closed, window_overlap"},
)
@staff_only(Capability.MEMBERSHIP)
async def change_window(request: Request) -> Response:
    data = await read_json(request, schemas.WindowChange)
    now = datetime.now(UTC)
    window_id = request.path_params["id"]
    actor = staff_member(request)
    if data.close_now:
        window = await windows.close_window(window_id, now=now, actor=actor)
    else:
        window = await windows.update_window(
            window_id,
            now=now,
            name=data.name,
            price_fen=data.price_fen,
            seats=data.seats,
            opens_at=data.opens_at,
            closes_at=data.closes_at,
            term_days=data.term_days,
            benefits=data.benefits,
            faq=None if data.faq is None else [entry.checked() for entry in data.faq],
            actor=actor,
        )
    return json_response(window_json(window))


@operation(
    "The window that is open, else the next one, else the last one",
    answer=schemas.CurrentWindow,
    auth=None,
    tag="membership",
    errors={404: "no_window"},
)
async def current_window(request: Request) -> Response:
    now = datetime.now(UTC)
    window = await services.current_window(now=now, memory=request.app.state.memory.seats)
    analytics.count_window_view(request.app.state.memory.tally, window, now)
    return json_response(
        {
            **window_json(window),
            "seats_left": await windows.seats_left(window, now=now),
            "state": windows.window_state(window, now).value,
            "benefits": window.benefits,
            "faq": window.faq,
        }
    )


@operation(
    "Hold a seat for the caller while they pay",
    answer=schemas.EnrollmentAnswer,
    status=201,
    tag="membership",
    errors={
        404: "window_not_found",
        409: "sold_out, not_open, closed, already_member, already_enrolled",
    },
)
async def enroll(request: Request) -> Response:
    enrollment = await services.enroll(
        window_id=request.path_params["id"],
        user=bearer_token(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.seats,
    )
    return json_response(await enrollment_json(enrollment), 201)


@operation(
    "One of the caller's enrollments",
    answer=schemas.EnrollmentAnswer,
    tag="membership",
    errors={404: "enrollment_not_found"},
)
async def get_enrollment(request: Request) -> Response:
    user = await api_user(request)
    enrollment = await services.enrollment_for_user(request.path_params["id"], user)
    return json_response(await enrollment_json(enrollment))


@operation(
    "Pay for a held seat: by card ({payment_method}), WeChat Pay ({method: wechat_pay}: a QR "
    "code) or Alipay ({method: alipay, return_url}: a redirect). The final status comes from "
    "GET on the enrollment",
    body=schemas.PaymentChoice,
    answer=schemas.PaymentAnswer,
    tag="membership",
    errors={
        # A provider abroad (a card through Stripe) before the cross-border consent.
        403: "consent_required",
        404: "enrollment_not_found",
        409: "hold_expired, already_paid, payment_in_progress",
        503: "payment_unavailable",
    },
)
async def pay(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.PaymentChoice)
    result = await services.pay_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        user=user,
        choice=await api_choice(request, user, data.choice(site_origins(request))),
        now=datetime.now(UTC),
    )
    return json_response(result.answer(translations(api_locale(request, user)).gettext))


@operation(
    "Give back a held seat: it returns at once, to the waitlist first (a payment under way is "
    "canceled at the provider first)",
    tag="membership",
    answer=schemas.EnrollmentCancelled,
    errors={
        404: "enrollment_not_found",
        409: "already_paid, hold_expired, payment_in_progress",
        503: "payment_unavailable",
    },
)
async def cancel(request: Request) -> Response:
    user = await api_user(request)
    enrollment = await services.cancel_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.seats,
    )
    return json_response({"id": enrollment.id, "status": enrollment.status.value})


@operation(
    "Join the waitlist of a sold-out window",
    answer=schemas.Position,
    status=201,
    tag="membership",
    errors={
        404: "window_not_found",
        409: "seats_available, not_open, closed, already_enrolled",
    },
)
async def join_waitlist(request: Request) -> Response:
    user = await api_user(request)
    position = await services.join_waitlist(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    return json_response({"position": position}, 201)


@operation(
    "Ask to be told (inbox, and mail if chosen) when an upcoming window opens",
    answer=schemas.Reminder,
    status=200,
    tag="membership",
    errors={404: "window_not_found", 409: "closed"},
)
async def remind_me(request: Request) -> Response:
    user = await api_user(request)
    waiting = await reminders.remind_me(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    return json_response({"waiting": waiting})


@operation(
    "Grant or extend a complimentary membership (admins)",
    body=schemas.Grant,
    answer=schemas.Membership,
    status=201,
    auth="admin",
    tag="membership",
    errors={404: "user_not_found"},
)
@staff_only(Capability.MEMBERSHIP)
async def grant(request: Request) -> Response:
    data = await read_json(request, schemas.Grant)
    user: User = await grants.grant_complimentary(
        user_id=data.user_id, days=data.days, now=datetime.now(UTC), actor=staff_member(request)
    )
    return json_response({"user_id": user.id, "member_until": iso(user.member_until)}, 201)


@operation(
    "End someone's membership now (admins)",
    answer=schemas.Membership,
    auth="admin",
    tag="membership",
    errors={404: "user_not_found", 409: "not_a_member"},
)
@staff_only(Capability.MEMBERSHIP)
async def revoke(request: Request) -> Response:
    user = await grants.revoke_membership(
        user_id=request.path_params["user_id"], now=datetime.now(UTC), actor=staff_member(request)
    )
    return json_response({"user_id": user.id, "member_until": iso(user.member_until)})


@operation(
    "Refund an enrollment in full: the membership ends, the seat returns (admins)",
    answer=schemas.EnrollmentAnswer,
    auth="admin",
    tag="membership",
    errors={
        404: "enrollment_not_found, payment_not_found",
        409: "not_refundable",
        422: "refund_too_large",
        503: "payment_unavailable",
    },
)
@staff_only(Capability.REFUND)
async def refund(request: Request) -> Response:
    enrollment = await services.refund_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    return json_response(await enrollment_json(enrollment))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route(
            "/admin/enrollment-windows",
            create_window,
            methods=["POST"],
            name="membership.create_window",
        ),
        Route(
            "/admin/enrollment-windows/{id:id}",
            change_window,
            methods=["PATCH"],
            name="membership.change_window",
        ),
        Route(
            "/enrollment-windows/current",
            current_window,
            methods=["GET"],
            name="membership.current_window",
        ),
        Route(
            "/enrollment-windows/{id:id}/enrollments",
            enroll,
            methods=["POST"],
            name="membership.enroll",
        ),
        Route(
            "/enrollment-windows/{id:id}/waitlist",
            join_waitlist,
            methods=["POST"],
            name="membership.join_waitlist",
        ),
        Route(
            "/enrollment-windows/{id:id}/reminders",
            remind_me,
            methods=["POST"],
            name="membership.remind_me",
        ),
        Route(
            "/enrollments/{id:id}",
            get_enrollment,
            methods=["GET"],
            name="membership.get_enrollment",
        ),
        Route("/enrollments/{id:id}/payment", pay, methods=["POST"], name="membership.pay"),
        Route("/enrollments/{id:id}/cancel", cancel, methods=["POST"], name="membership.cancel"),
        Route("/admin/members", grant, methods=["POST"], name="membership.grant"),
        Route("/admin/members/{user_id:id}", revoke, methods=["DELETE"], name="membership.revoke"),
        Route(
            "/admin/enrollments/{id:id}/refund", refund, methods=["POST"], name="membership.refund"
        ),
    ]
