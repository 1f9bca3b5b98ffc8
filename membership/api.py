"""Membership's JSON API: windows (admins create them), enrollment, payment, waitlist, grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accounts.models import User
from membership import grants, services, windows
from membership.models import Enrollment, EnrollmentWindow
from web.api import Field, Schema, iso, json_response, operation, read_json
from web.auth import api_admin, api_user

WINDOW = Schema(
    {
        "name": Field("string", min_length=1, max_length=80),
        "price_fen": Field("integer", minimum=1, maximum=windows.MAX_PRICE_FEN),
        "seats": Field("integer", minimum=1, maximum=windows.MAX_SEATS),
        "opens_at": Field("datetime"),
        "closes_at": Field("datetime"),
        "term_days": Field("integer", required=False, minimum=1, maximum=3660),
    }
)
WINDOW_CHANGE = Schema(
    {
        name: Field(
            field.type,
            required=False,
            min_length=field.min_length,
            max_length=field.max_length,
            minimum=field.minimum,
            maximum=field.maximum,
        )
        for name, field in WINDOW.fields.items()
    }
    | {"close_now": Field("boolean", required=False, description="close the window now")}
)
PAYMENT = Schema(
    {
        "payment_method": Field(
            "string", max_length=100, description="a PaymentMethod id made by Stripe.js (pm_...)"
        )
    }
)
GRANT = Schema(
    {
        "user_id": Field("integer", minimum=1),
        "days": Field("integer", minimum=1, maximum=3660),
    }
)


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


def enrollment_json(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "id": enrollment.id,
        "window_id": enrollment.window_id,  # type: ignore[attr-defined]
        "status": enrollment.status.value,
        "amount_fen": enrollment.amount_fen,
        "hold_expires_at": iso(enrollment.hold_expires_at),
        "payment_id": enrollment.payment_id,
    }


@operation(
    "Create an enrollment window (admins)",
    body=WINDOW,
    tag="membership",
    responses={201: "the window", 403: "forbidden", 409: "window_overlap", 422: "invalid field"},
)
async def create_window(request: Request) -> Response:
    await api_admin(request)
    data = await read_json(request, WINDOW)
    window = await windows.create_window(
        name=data["name"],
        price_fen=data["price_fen"],
        seats=data["seats"],
        opens_at=data["opens_at"],
        closes_at=data["closes_at"],
        term_days=data.get("term_days") or windows.DEFAULT_TERM_DAYS,
        now=datetime.now(UTC),
    )
    return json_response(window_json(window), 201)


@operation(
    "Edit a window before it opens, extend it, or close it now (admins)",
    body=WINDOW_CHANGE,
    tag="membership",
    responses={200: "the window", 403: "forbidden", 409: "window_started, closed"},
)
async def change_window(request: Request) -> Response:
    await api_admin(request)
    data = await read_json(request, WINDOW_CHANGE)
    now = datetime.now(UTC)
    window_id = request.path_params["id"]
    if data.pop("close_now", False):
        window = await windows.close_window(window_id, now=now)
    else:
        window = await windows.update_window(window_id, now=now, **data)
    return json_response(window_json(window))


@operation(
    "The window that is open, else the next one, else the last one",
    auth=None,
    tag="membership",
    responses={200: "the window with seats_left and state", 404: "no_window"},
)
async def current_window(request: Request) -> Response:
    now = datetime.now(UTC)
    window = await windows.current_window(now=now)
    return json_response(
        {
            **window_json(window),
            "seats_left": await windows.seats_left(window, now=now),
            "state": windows.window_state(window, now).value,
        }
    )


@operation(
    "Hold a seat for the caller while they pay",
    tag="membership",
    responses={
        201: "{id, status, amount_fen, hold_expires_at}",
        401: "unauthorized",
        404: "window_not_found",
        409: "sold_out, not_open, closed, already_member, already_enrolled",
    },
)
async def enroll(request: Request) -> Response:
    user = await api_user(request)
    enrollment = await services.enroll(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    return json_response(enrollment_json(enrollment), 201)


@operation(
    "One of the caller's enrollments",
    tag="membership",
    responses={200: "the enrollment", 401: "unauthorized", 404: "enrollment_not_found"},
)
async def get_enrollment(request: Request) -> Response:
    user = await api_user(request)
    enrollment = await services.enrollment_for_user(request.path_params["id"], user)
    return json_response(enrollment_json(enrollment))


@operation(
    "Pay for a held seat with a Stripe PaymentMethod",
    body=PAYMENT,
    tag="membership",
    responses={
        200: "{status: paid|requires_action|failed, client_secret?, reason?}",
        401: "unauthorized",
        404: "enrollment_not_found",
        409: "hold_expired, already_paid, payment_in_progress",
        422: "payment_method invalid",
        503: "payment_unavailable",
    },
)
async def pay(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, PAYMENT)
    result = await services.pay_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        user=user,
        payment_method=data["payment_method"],
        now=datetime.now(UTC),
    )
    return json_response(result.answer())


@operation(
    "Give back a held seat: it returns at once, to the waitlist first (a payment under way is "
    "canceled at the provider first)",
    tag="membership",
    responses={
        200: "{id, status: cancelled}",
        401: "unauthorized",
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
    )
    return json_response({"id": enrollment.id, "status": enrollment.status.value})


@operation(
    "Join the waitlist of a sold-out window",
    tag="membership",
    responses={201: "{position}", 401: "unauthorized", 409: "seats_available, closed"},
)
async def join_waitlist(request: Request) -> Response:
    user = await api_user(request)
    position = await services.join_waitlist(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    return json_response({"position": position}, 201)


@operation(
    "Grant or extend a complimentary membership (admins)",
    body=GRANT,
    tag="membership",
    responses={201: "{user_id, member_until}", 403: "forbidden", 404: "user_not_found"},
)
async def grant(request: Request) -> Response:
    admin = await api_admin(request)
    data = await read_json(request, GRANT)
    user: User = await grants.grant_complimentary(
        user_id=data["user_id"], days=data["days"], granted_by=admin, now=datetime.now(UTC)
    )
    return json_response({"user_id": user.id, "member_until": iso(user.member_until)}, 201)


@operation(
    "End someone's membership now (admins)",
    tag="membership",
    responses={200: "{user_id, member_until}", 403: "forbidden", 409: "not_a_member"},
)
async def revoke(request: Request) -> Response:
    await api_admin(request)
    user = await grants.revoke_membership(
        user_id=request.path_params["user_id"], now=datetime.now(UTC)
    )
    return json_response({"user_id": user.id, "member_until": iso(user.member_until)})


@operation(
    "Refund an enrollment in full: the membership ends, the seat returns (admins)",
    tag="membership",
    responses={200: "the enrollment", 403: "forbidden", 404: "enrollment_not_found"},
)
async def refund(request: Request) -> Response:
    await api_admin(request)
    enrollment = await services.refund_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        now=datetime.now(UTC),
    )
    return json_response(enrollment_json(enrollment))


routes = [
    Route("/admin/enrollment-windows", create_window, methods=["POST"]),
    Route("/admin/enrollment-windows/{id:int}", change_window, methods=["PATCH"]),
    Route("/enrollment-windows/current", current_window, methods=["GET"]),
    Route("/enrollment-windows/{id:int}/enrollments", enroll, methods=["POST"]),
    Route("/enrollment-windows/{id:int}/waitlist", join_waitlist, methods=["POST"]),
    Route("/enrollments/{id:int}", get_enrollment, methods=["GET"]),
    Route("/enrollments/{id:int}/payment", pay, methods=["POST"]),
    Route("/enrollments/{id:int}/cancel", cancel, methods=["POST"]),
    Route("/admin/members", grant, methods=["POST"]),
    Route("/admin/members/{user_id:int}", revoke, methods=["DELETE"]),
    Route("/admin/enrollments/{id:int}/refund", refund, methods=["POST"]),
]
