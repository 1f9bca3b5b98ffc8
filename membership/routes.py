"""Membership's pages: the window with its countdown and live seats, checkout, the card."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from membership import grants, reminders, services, windows
from membership.models import Enrollment, EnrollmentStatus
from payments import checkout as payment_pages
from payments.schemas import PayForm
from web.api import read_fields
from web.auth import current_user, require_user
from web.csrf import read_form
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render


async def window_page(request: Request) -> Response:
    """The current window: countdown, seats left (polled), enroll or join the waitlist."""
    now = datetime.now(UTC)
    user = await current_user(request)
    view = await services.window_view(user=user, now=now, memory=request.app.state.memory.seats)
    return await render(
        request,
        "membership/window.html",
        {
            "window": view.window,
            "now": now,
            "enrollment": view.enrollment,
            "state": view.state.value if view.state is not None else None,
            "closes_at": view.closes_at,
            "seats_left": view.seats_left,
            "is_member": view.is_member,
            "renewal_due": view.renewal_due,
            "waitlist_place": view.waitlist_place,
            "reminded": await reminders.waiting_for(view.window.id, user)
            if view.window is not None
            else False,
        },
    )


async def seats_partial(request: Request) -> Response:
    """The live seats-left count, polled by htmx every few seconds."""
    now = datetime.now(UTC)
    window = await windows.get_window(request.path_params["id"])
    return await render(
        request,
        "membership/_seats_left.html",
        {
            "window": window,
            "state": windows.window_state(window, now).value,
            "seats_left": await windows.seats_left(window, now=now),
        },
    )


async def enroll(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, "/membership")
    enrollment = await services.enroll(
        window_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.seats,
    )
    return redirect_after_post(request, f"/membership/enrollments/{enrollment.id}/pay")


async def join_waitlist(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, "/membership")
    position = await services.join_waitlist(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    _ = gettext_for(request)
    flash(request, _("You are number %(n)d on the waitlist.") % {"n": position}, "success")
    return redirect_after_post(request, "/membership")


async def remind_me(request: Request) -> Response:
    """ "Tell me when enrollment opens" on an upcoming window."""
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, "/membership")
    _ = gettext_for(request)
    if await reminders.remind_me(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    ):
        flash(request, _("We will tell you when enrollment opens."), "success")
    return redirect_after_post(request, "/membership")


async def checkout_page(request: Request) -> Response:
    user = await require_user(request)
    enrollment = await services.enrollment_for_user(request.path_params["id"], user)
    if enrollment.status == EnrollmentStatus.PAID:
        return redirect_after_post(request, "/membership/card")
    window = await windows.get_window(enrollment.window_id)  # type: ignore[attr-defined]
    settings = request.app.state.settings
    now = datetime.now(UTC)
    return await render(
        request,
        "membership/checkout.html",
        {
            "enrollment": enrollment,
            "window": window,
            "expired": enrollment.status != EnrollmentStatus.PENDING_PAYMENT
            or enrollment.hold_expires_at <= now,
            "stripe_js": settings.stripe_js_url,
            "publishable_key": settings.stripe_publishable_key,
            "methods": payment_pages.offered_methods(request),
            "device": payment_pages.device_of(request),
        },
    )


async def pay(request: Request) -> Response:
    """Called by the checkout page's script with the PaymentMethod Stripe.js made; JSON back
    (errors too, in the API's shape: the script asks for JSON)."""
    user = await require_user(request)
    form = read_fields(await read_form(request), PayForm)
    enrollment_id = request.path_params["id"]
    paying = f"/membership/enrollments/{enrollment_id}/paying"
    result = await services.pay_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=enrollment_id,
        user=user,
        choice=payment_pages.form_choice(request, form, paying),
        now=datetime.now(UTC),
    )
    return payment_pages.pay_answer(
        request, result, method=form.method, paying=paying, done_url="/membership/card"
    )


async def paying_page(request: Request) -> Response:
    """Waiting for WeChat Pay or Alipay (see store.routes.paying_page): paid, on to the
    membership card; failed or over, back to checkout."""
    user = await require_user(request)
    enrollment = await services.enrollment_for_user(request.path_params["id"], user)
    payment = await payment_pages.settled(request, enrollment.payment_id, eager=True)
    enrollment = await Enrollment.get(id=enrollment.id)
    if enrollment.status == EnrollmentStatus.PAID:
        return RedirectResponse("/membership/card", status_code=303)
    checkout = f"/membership/enrollments/{enrollment.id}/pay"
    if enrollment.status != EnrollmentStatus.PENDING_PAYMENT:
        return RedirectResponse(checkout, status_code=303)
    window = await windows.get_window(enrollment.window_id)  # type: ignore[attr-defined]
    return await payment_pages.waiting_page(
        request,
        payment,
        checkout_url=checkout,
        status_url=f"/membership/enrollments/{enrollment.id}/status",
        done_url="/membership/card",
        amount_fen=enrollment.amount_fen,
        what=window.name,
    )


async def payment_status(request: Request) -> Response:
    """After 3-D Secure in the browser: settle with the provider and say where to go."""
    user = await require_user(request)
    enrollment = await services.enrollment_for_user(request.path_params["id"], user)
    payment = await payment_pages.settled(request, enrollment.payment_id, eager=False)
    enrollment = await Enrollment.get(id=enrollment.id)
    return payment_pages.status_answer(
        request,
        payment,
        paid=enrollment.status == EnrollmentStatus.PAID,
        held=enrollment.status == EnrollmentStatus.PENDING_PAYMENT,
        done_url="/membership/card",
    )


async def cancel(request: Request) -> Response:
    """The holder gives a held seat back."""
    user = await require_user(request)
    await read_form(request)
    await services.cancel_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.seats,
    )
    _ = gettext_for(request)
    flash(request, _("Your seat is given back."))
    return redirect_after_post(request, "/membership")


async def card_page(request: Request) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    member = await grants.member_for(user)
    if member is None or not services.is_member(user, at=now):
        flash(request, gettext_for(request)("You are not a member yet."), "info")
        return redirect_after_post(request, "/membership")
    token = grants.card_token(member, secret_key=request.app.state.settings.secret_key)
    verify_url = request.app.state.settings.absolute_url(
        request.app.url_path_for("verify_card", token=token)
    )
    svg = BytesIO()
    segno.make(verify_url, error="m").save(svg, kind="svg", scale=5, border=2, xmldecl=False)
    return await render(
        request,
        "membership/card.html",
        {
            "member": member,
            "user": user,
            "verify_url": verify_url,
            "qr_svg": svg.getvalue().decode(),
            "renewal_due": grants.renewal_due(user, at=now),
        },
    )


async def verify_card(request: Request) -> Response:
    """For staff scanning a card: valid or not, and nothing about the person."""
    valid = await grants.verify_card(
        request.path_params["token"],
        secret_key=request.app.state.settings.secret_key,
        now=datetime.now(UTC),
    )
    return await render(request, "membership/verify.html", {"valid": valid})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/membership", window_page, methods=["GET"]),
        Route("/membership/windows/{id:id}/seats", seats_partial, methods=["GET"]),
        Route("/membership/windows/{id:id}/enroll", enroll, methods=["POST"]),
        Route("/membership/windows/{id:id}/waitlist", join_waitlist, methods=["POST"]),
        Route("/membership/windows/{id:id}/remind", remind_me, methods=["POST"]),
        Route("/membership/enrollments/{id:id}/pay", checkout_page, methods=["GET"]),
        Route("/membership/enrollments/{id:id}/pay", pay, methods=["POST"]),
        Route("/membership/enrollments/{id:id}/status", payment_status, methods=["GET"]),
        Route("/membership/enrollments/{id:id}/paying", paying_page, methods=["GET"]),
        Route("/membership/enrollments/{id:id}/cancel", cancel, methods=["POST"]),
        Route("/membership/card", card_page, methods=["GET"]),
        Route("/membership/verify/{token}", verify_card, methods=["GET"], name="verify_card"),
    ]
