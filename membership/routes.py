"""Membership's pages: the window with its countdown and live seats, checkout, the card."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.models import User
from errors import ValidationError
from membership import analytics, grants, reminders, services, welcome, windows
from payments import checkout as payment_pages
from payments import services as payments
from payments.held import Held
from payments.schemas import PayForm
from translation import N_
from web.auth import current_user, require_user
from web.csrf import read_form
from web.decoding import read_fields
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render


async def window_page(request: Request) -> Response:
    """The current window: countdown, seats left (polled), enroll or join the waitlist."""
    now = datetime.now(UTC)
    user = await current_user(request)
    view = await services.window_view(user=user, now=now, memory=request.app.state.memory.seats)
    analytics.count_window_view(request.app.state.memory.tally, view.window, now)
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
            "members": view.members,
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
    on_error_back(request, links.path("membership.window_page"))
    enrollment = await services.enroll(
        window_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.seats,
    )
    return redirect_after_post(request, links.path("membership.checkout_page", id=enrollment.id))


async def join_waitlist(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, links.path("membership.window_page"))
    position = await services.join_waitlist(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    _ = gettext_for(request)
    flash(request, _("You are number %(n)d on the waitlist.") % {"n": position}, "success")
    return redirect_after_post(request, links.path("membership.window_page"))


async def remind_me(request: Request) -> Response:
    """ "Tell me when enrollment opens" on an upcoming window."""
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, links.path("membership.window_page"))
    _ = gettext_for(request)
    if await reminders.remind_me(
        window_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    ):
        flash(request, _("We will tell you when enrollment opens."), "success")
    return redirect_after_post(request, links.path("membership.window_page"))


class SeatCheckout:
    """A held seat, as the one checkout (payments.checkout) pays for it."""

    form = PayForm

    def urls(self, subject_id: int) -> payment_pages.CheckoutUrls:
        # A seat no longer held stays on its checkout, which says so and leads back. A paid
        # one leads to the new member's welcome.
        return payment_pages.CheckoutUrls(
            area="membership",
            subject_id=subject_id,
            paid=links.path("membership.welcome_page"),
            receipt=links.path("membership.welcome_page"),
        )

    async def held(self, subject_id: int, user: User) -> Held:
        return services.held_seat(await services.enrollment_for_user(subject_id, user))

    async def view(self, request: Request, held: Held, user: User) -> payment_pages.CheckoutView:
        enrollment = await services.enrollment_for_user(held.subject_id, user)
        window = await windows.get_window(enrollment.window_id)  # type: ignore[attr-defined]
        return payment_pages.CheckoutView(
            title=N_("Pay for your seat"),
            what=window.name,
            details="membership/_checkout_details.html",
            expired_note=N_("Your seat hold has expired; enroll again if seats are left."),
            back=(links.path("membership.window_page"), N_("Back to membership")),
            cancel_label=N_("Give the seat back"),
            context={"enrollment": enrollment, "window": window},
        )

    async def pay(
        self,
        request: Request,
        subject_id: int,
        user: User,
        form: PayForm,
        choice: payments.PaymentChoice,
    ) -> payments.PaymentResult:
        return await services.pay_enrollment(
            provider=request.app.state.payments_provider,
            enrollment_id=subject_id,
            user=user,
            choice=choice,
            now=datetime.now(UTC),
        )


SEATS = SeatCheckout()


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
    return redirect_after_post(request, links.path("membership.window_page"))


async def renew_page(request: Request) -> Response:
    """One tap to renew (where a renewal reminder leads): the member's end date and, while a
    window is open, its price and one button, with the way they paid last time chosen first
    (a wallet renews no other way: membership/grants.send_renewal_reminders)."""
    user = await require_user(request)
    now = datetime.now(UTC)
    renewal = await services.renewal_view(user=user, now=now, memory=request.app.state.memory.seats)
    offered = payment_pages.offered_methods(request)
    wallets = [method for method in offered if method != "card"]
    if renewal.last_method in wallets:
        wallets.remove(renewal.last_method)
        wallets.insert(0, renewal.last_method)
    view = renewal.view
    return await render(
        request,
        "membership/renew.html",
        {
            "renewal": renewal,
            "window": view.window,
            "state": view.state.value if view.state is not None else None,
            "enrollment": view.enrollment,
            "seats_left": view.seats_left,
            "renewal_due": view.renewal_due or not view.is_member,
            "methods": wallets,
            "card_offered": "card" in offered,
            "device": payment_pages.device_of(request),
            "wechat_flow": payment_pages.flow_for(request, "wechat_pay"),
            # A wallet taken through Stripe goes abroad: its notice and box, as the checkout's.
            "cross_border": await payment_pages.cross_border_notice(request, user),
            "reminded": await reminders.waiting_for(view.window.id, user)
            if view.window is not None
            else False,
        },
    )


async def renew(request: Request) -> Response:
    """The renewal page's one tap: a seat in the open window (the one already held, else one
    held now) paid at once with the wallet chosen; the script is told where to go (the
    wallet's page, or our waiting page), as the checkout's is."""
    user = await require_user(request)
    form = read_fields(await read_form(request), PayForm)
    now = datetime.now(UTC)
    if form.method == "card":
        raise ValidationError("method", "is a wallet here; pay by card from the checkout")
    enrollment = await services.renewal_seat(
        user=user, now=now, memory=request.app.state.memory.seats
    )
    urls = SEATS.urls(enrollment.id)
    if payment_pages.openid_needed(request, user) and form.method == "wechat_pay":
        # Inside WeChat, JSAPI first learns the buyer's openid: the checkout does that.
        return payment_pages.redirect_for_script(request, urls.checkout)
    await payment_pages.agree_abroad(request, user, form)  # the notice's box, if ticked
    choice = await payment_pages.form_choice(request, user, form, urls.paying)
    result = await payments.still_waiting(
        enrollment.payment_id, method=form.method, flow=choice.flow, now=now
    ) or await services.pay_enrollment(
        provider=request.app.state.payments_provider,
        enrollment_id=enrollment.id,
        user=user,
        choice=choice,
        now=now,
    )
    if result.outcome == payments.Outcome.PENDING:
        return payment_pages.redirect_for_script(request, urls.paying)
    return payment_pages.pay_answer(
        request, result, method=form.method, paying=urls.paying, done_url=urls.paid
    )


async def card_page(request: Request) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    member = await grants.member_for(user)
    if member is None or not services.is_member(user, at=now):
        flash(request, gettext_for(request)("You are not a member yet."), "info")
        return redirect_after_post(request, links.path("membership.window_page"))
    token = grants.card_token(member, secret_key=request.app.state.settings.secret_key)
    verify_url = links.absolute_with_token("membership.verify_card", token)
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


async def welcome_page(request: Request) -> Response:
    """Where a buyer lands once paid, and may come back to: what their membership gives."""
    user = await require_user(request)
    greeting = await welcome.welcome_for(user, now=datetime.now(UTC))
    if greeting is None:
        flash(request, gettext_for(request)("You are not a member yet."), "info")
        return redirect_after_post(request, links.path("membership.window_page"))
    return await render(request, "membership/welcome.html", {"welcome": greeting, "user": user})


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
        Route("/membership", window_page, methods=["GET"], name="membership.window_page"),
        Route(
            "/membership/windows/{id:id}/seats",
            seats_partial,
            methods=["GET"],
            name="membership.seats_partial",
        ),
        Route(
            "/membership/windows/{id:id}/enroll", enroll, methods=["POST"], name="membership.enroll"
        ),
        Route(
            "/membership/windows/{id:id}/waitlist",
            join_waitlist,
            methods=["POST"],
            name="membership.join_waitlist",
        ),
        Route(
            "/membership/windows/{id:id}/remind",
            remind_me,
            methods=["POST"],
            name="membership.remind_me",
        ),
        *payment_pages.checkout_routes("membership", "/membership/enrollments/{id:id}", SEATS),
        Route(
            "/membership/enrollments/{id:id}/cancel",
            cancel,
            methods=["POST"],
            name="membership.cancel",
        ),
        Route("/membership/renew", renew_page, methods=["GET"], name="membership.renew_page"),
        Route("/membership/renew", renew, methods=["POST"], name="membership.renew"),
        Route("/membership/card", card_page, methods=["GET"], name="membership.card_page"),
        Route("/membership/welcome", welcome_page, methods=["GET"], name="membership.welcome_page"),
        Route(
            "/membership/verify/{token}",
            verify_card,
            methods=["GET"],
            name="membership.verify_card",
        ),
    ]
