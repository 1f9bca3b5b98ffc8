"""Payments' pages: the provider's webhook endpoint (not a form: its signature, not a CSRF token,
proves origin), the QR code picture of a WeChat Pay payment, and the admins' payments list.
What the checkouts of the store and of membership share is payments.checkout."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import segno
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from payments import services
from payments.models import PaymentStatus, PayMethod
from payments.schemas import PaymentsQuery
from web.auth import api_user, bearer_token, current_user, require_admin
from web.decoding import read_query
from web.rendering import render


async def qr_code(request: Request) -> Response:
    """The QR code of the buyer's own WeChat Pay payment, drawn here from its data (an SVG on
    our own origin: the page's CSP needs nothing more). The buyer's browser session, or an
    API client's bearer token (its qr_image_url)."""
    user = await current_user(request) if bearer_token(request) is None else None
    if user is None:
        user = await api_user(request)
    payment = await services.payment_for_user(
        request.path_params["id"], user_id=user.id, is_admin=user.is_admin
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


async def admin_payments(request: Request) -> Response:
    """The admin's payments list: the latest first, of one method or status if asked."""
    await require_admin(request)
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
            "methods": [m.value for m in PayMethod],
            "statuses": [s.value for s in PaymentStatus],
            "disputed": await services.count_disputed(),
        },
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/payments/admin", admin_payments, methods=["GET"], name="payments.admin_payments"),
        Route("/payments/webhook", webhook, methods=["POST"], name="payments.webhook"),
        Route("/payments/{id:id}/qr.svg", qr_code, methods=["GET"], name="payments.qr_code"),
    ]


# HTML POST routes that are not forms; the CSRF route-walk test skips exactly these.
CSRF_EXEMPT = frozenset({"payments.webhook"})
