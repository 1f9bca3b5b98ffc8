"""Payments' pages: the provider's webhook endpoint (not a form: its signature, not a CSRF token,
proves origin), the QR code picture of a WeChat Pay payment, and the console's payments list
and its CSV.
What the checkouts of the store and of membership share is payments.checkout."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from io import BytesIO

import segno
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accounts import audit
from accounts.roles import Capability
from errors import DomainError
from payments import services
from payments.models import Payment, PaymentStatus, PayMethod
from payments.schemas import PaymentsQuery
from web.auth import (
    api_user,
    bearer_token,
    client_address,
    current_user,
    refuse_cross_site,
    staff_member,
    staff_only,
)
from web.decoding import read_query
from web.forms import csv_download
from web.rendering import SHANGHAI, render


async def qr_code(request: Request) -> Response:
    """The QR code of the buyer's own WeChat Pay payment, drawn here from its data (an SVG on
    our own origin: the page's CSP needs nothing more). The buyer's browser session, or an
    API client's bearer token (its qr_image_url)."""
    user = await current_user(request) if bearer_token(request) is None else None
    if user is None:
        user = await api_user(request)
    payment = await services.payment_for_user(
        request.path_params["id"], user_id=user.id, may_read_any=user.may(Capability.PAYMENTS)
    )
    if payment.method != PayMethod.WECHAT_PAY or payment.action_url is None:
        raise HTTPException(status_code=404, detail="This payment has no QR code to scan.")
    svg = BytesIO()
    code = segno.make(payment.action_url, error="m")
    code.save(svg, kind="svg", scale=8, border=2, xmldecl=False, title="WeChat Pay")
    return Response(
        svg.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


async def webhook(request: Request) -> Response:
    """200 once an event is applied or recognised as seen; 400 for a bad signature or an
    event we cannot use. Its size is bounded by web.limits while it streams in."""
    payload = await request.body()
    result = await services.handle_webhook(
        provider=request.app.state.payments_provider,
        payload=payload,
        headers=request.headers,
        now=datetime.now(UTC),
    )
    return JSONResponse({"received": True, "result": result})


async def wechatpay_notify(request: Request) -> Response:
    """WeChat Pay's notifications (a payment succeeded, a refund ended): 204 with an empty body
    once taken (applied, or known already); else `{"code": "FAIL", "message"}` with 400 for a
    forged or unusable one, and 500 when WeChat cannot be asked or does not confirm what the
    notification says (WeChat Pay retries anything but a 2xx). 404 where WeChat Pay is not
    paid directly."""
    provider = services.direct_provider(request.app.state.payments_provider, "wechatpay")
    if provider is None:
        raise HTTPException(status_code=404)
    payload = await request.body()
    try:
        done = await services.handle_webhook(
            provider=provider, payload=payload, headers=request.headers, now=datetime.now(UTC)
        )
    except DomainError as exc:
        status = 500 if exc.status >= 500 else 400
        return JSONResponse({"code": "FAIL", "message": exc.message[:200]}, status_code=status)
    if done == "unconfirmed":
        # WeChat, asked, does not (yet) say what its notification says: nothing was applied,
        # and a FAIL makes WeChat send it again later, when the read may agree.
        message = "WeChat Pay does not confirm it yet."
        return JSONResponse({"code": "FAIL", "message": message}, status_code=500)
    return Response(status_code=204)


async def alipay_notify(request: Request) -> Response:
    """Alipay's asynchronous notifications (a trade paid, closed or refunded), a signed form:
    the plain text `success` once taken (applied, or known already); anything else makes
    Alipay send it again (over a day): `fail` with 400 for a forged or unusable one, 500 when
    Alipay cannot be asked or does not confirm what the notification says. 404 where Alipay
    is not paid directly."""
    provider = services.direct_provider(request.app.state.payments_provider, "alipay")
    if provider is None:
        raise HTTPException(status_code=404)
    payload = await request.body()
    try:
        done = await services.handle_webhook(
            provider=provider, payload=payload, headers=request.headers, now=datetime.now(UTC)
        )
    except DomainError as exc:
        return PlainTextResponse("fail", status_code=500 if exc.status >= 500 else 400)
    if done == "unconfirmed":
        # Alipay, asked, does not (yet) say what its notification says: nothing was applied;
        # it sends the notification again later, when the read may agree.
        return PlainTextResponse("fail", status_code=500)
    return PlainTextResponse("success")


async def wechat_h5(request: Request) -> Response:
    """Where a phone's browser goes to pay with WeChat Pay's h5 flow: the order is placed
    again for a fresh h5_url (it lives five minutes: each click gets its own) and the buyer
    sent on to WeChat, coming back to the thing's waiting page. Answered with
    `Referrer-Policy: origin`: WeChat checks the Referer against the merchant's registered
    H5 domain, and the site's own policy (same-origin) would send none. Whoever holds the
    link (its key `k`, given to the buyer with the payment) may use it; a payment no longer
    waiting goes to its waiting page, which says what became of it (to its buyer only)."""
    payment = await Payment.get_or_none(id=request.path_params["id"])
    if payment is None or payment.flow != "h5":
        raise HTTPException(status_code=404, detail="No such payment to pay with WeChat.")
    back = services.paying_page_of(payment)
    if payment.action_help_url is None:
        # Settled (its key went with it): the waiting page, for its buyer, says what became
        # of it.
        return RedirectResponse(back, status_code=303)
    key = request.query_params.get("k", "")
    if not hmac.compare_digest(key.encode()[:100], payment.action_help_url.encode()):
        raise HTTPException(status_code=404, detail="No such payment to pay with WeChat.")
    url = await services.fresh_h5_url(
        request.app.state.payments_provider,
        payment,
        address=client_address(request),
        back=back,
        now=datetime.now(UTC),
    )
    response = RedirectResponse(url or back, status_code=303)
    response.headers["Referrer-Policy"] = "origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@staff_only(Capability.PAYMENTS)
async def admin_payments(request: Request) -> Response:
    """The console's payments list: the latest first, of one method or status if asked."""
    query = read_query(request, PaymentsQuery)
    return await render(
        request,
        "payments/admin.html",
        {
            "payments": await services.latest_payments(
                method=query.method or None, status=query.status or None
            ),
            "method": query.method,
            "status": query.status,
            "filters": {
                key: value
                for key, value in (("method", query.method), ("status", query.status))
                if value
            },
            "methods": [m.value for m in PayMethod],
            "statuses": [s.value for s in PaymentStatus],
            "disputed": await services.count_disputed(),
        },
    )


PAYMENT_COLUMNS = (
    "id", "created_at", "user_id", "email", "display_name", "purpose", "subject_id",
    "amount_fen", "refunded_fen", "currency", "method", "status", "failure_code",
)  # fmt: skip


async def _payment_rows(payments: AsyncIterator[Payment]) -> AsyncIterator[list[object]]:
    async for payment in payments:
        yield [
            payment.id,
            payment.created_at.astimezone(SHANGHAI).isoformat(),
            payment.user.id,
            payment.user.email,
            payment.user.display_name,
            payment.purpose,
            payment.subject_id,
            payment.amount_fen,
            payment.refunded_fen,
            payment.currency,
            payment.method.value,
            payment.status.value,
            payment.failure_code or "",
        ]


@staff_only(Capability.EXPORT)
async def admin_payments_csv(request: Request) -> Response:
    """The payments the page lists (its filters, every row) as CSV, oldest first, streamed a
    batch at a time; the export is itself an audit entry, written before the first row."""
    refuse_cross_site(request)
    query = read_query(request, PaymentsQuery)
    filters = {"method": query.method or None, "status": query.status or None}
    await audit.record(
        actor=staff_member(request),
        action="export.payments",
        object_type="payment",
        after={"filters": {key: value for key, value in filters.items() if value}},
    )
    return csv_download(
        "payments.csv", PAYMENT_COLUMNS, _payment_rows(services.all_payments(**filters))
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/payments", admin_payments, methods=["GET"], name="payments.admin_payments"),
        Route(
            "/admin/payments.csv",
            admin_payments_csv,
            methods=["GET"],
            name="payments.admin_payments_csv",
        ),
        Route("/payments/webhook", webhook, methods=["POST"], name="payments.webhook"),
        Route(
            "/payments/notify/wechatpay",
            wechatpay_notify,
            methods=["POST"],
            name="payments.wechatpay_notify",
        ),
        Route(
            "/payments/notify/alipay",
            alipay_notify,
            methods=["POST"],
            name="payments.alipay_notify",
        ),
        Route("/payments/{id:id}/wechat-h5", wechat_h5, methods=["GET"], name="payments.wechat_h5"),
        Route("/payments/{id:id}/qr.svg", qr_code, methods=["GET"], name="payments.qr_code"),
    ]


# HTML POST routes that are not forms; the CSRF route-walk test skips exactly these.
CSRF_EXEMPT = frozenset({"payments.webhook", "payments.wechatpay_notify", "payments.alipay_notify"})
