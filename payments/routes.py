"""Payments' pages: the provider's webhook endpoint (not a form: its signature, not a CSRF token,
proves origin), the QR code picture of a WeChat Pay payment, and what the checkouts of the store
and of membership share about wallets: which methods this browser is offered, and the page a
buyer waits on while WeChat Pay or Alipay is paid."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import segno
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from payments import reasons, services
from payments.api import site_origins
from payments.models import Payment, PaymentStatus, PayMethod
from payments.schemas import PayForm, PaymentsQuery
from payments.settle import wallet_action
from web.api import read_query
from web.auth import api_user, bearer_token, current_user, require_admin
from web.rendering import flash, gettext_for, redirect_after_post, render


def device_of(request: Request) -> str:
    """ "wechat" inside WeChat's own browser (links shared in WeChat open there), "phone" on
    another phone browser, else "desktop": each is shown WeChat Pay differently."""
    agent = request.headers.get("user-agent", "")[:500]
    if "MicroMessenger" in agent:
        return "wechat"
    if any(word in agent for word in ("Mobi", "Android", "iPhone", "iPad")):
        return "phone"
    return "desktop"


def offered_methods(request: Request) -> list[str]:
    """The methods checkout offers this browser, in the operator's order: all the provider
    account takes, except Alipay inside WeChat's browser (WeChat blocks its links)."""
    methods = list(request.app.state.payments_provider.methods)
    if device_of(request) == "wechat":
        methods = [method for method in methods if method != "alipay"]
    return methods


def return_url(request: Request, path: str) -> str:
    """`path` on the public address: where Alipay sends the buyer back to."""
    return str(request.app.state.settings.absolute_url(path))


def form_choice(request: Request, form: PayForm, paying: str) -> services.PaymentChoice:
    """A checkout form's choice: a card's PaymentMethod, or a wallet (Alipay returning to the
    waiting page `paying` on the origin this buyer uses)."""
    return services.PaymentChoice(
        payment_method=form.payment_method if form.method == "card" else None,
        method=form.method,
        return_url=return_url(request, paying) if form.method == "alipay" else None,
        site_origins=site_origins(request),
    )


async def waiting_page(
    request: Request,
    payment: Payment | None,
    *,
    checkout_url: str,
    status_url: str,
    done_url: str,
    amount_fen: int,
    what: str,
) -> Response:
    """payments/paying.html for a held thing's open wallet payment: the QR code large (or the
    way to pay from another device), or Alipay's link, with the time it stays payable. A
    failed payment, a card's or none: back to checkout, saying why."""
    failure = failure_sentence(payment)
    if failure is not None or payment is None or payment.method == PayMethod.CARD:
        if failure is not None:
            flash(request, gettext_for(request)(failure), "error")
        return RedirectResponse(checkout_url, status_code=303)
    return await render(
        request,
        "payments/paying.html",
        {
            "payment": payment,
            "action": wallet_action(payment),
            "device": device_of(request),
            "status_url": status_url,
            "checkout_url": checkout_url,
            "done_url": done_url,
            "amount_fen": amount_fen,
            "what": what,
            "card_offered": "card" in request.app.state.payments_provider.methods,
            # In development the code's page is on this machine (localstripe_server): a link
            # to it stands in for a phone that scans the code. Never in production.
            "scan_link": not request.app.state.settings.is_production,
        },
    )


def wallet_next(request: Request, result: services.PaymentResult, paying: str) -> Response:
    """Where a buyer goes once a wallet payment waits for them: the waiting page (WeChat Pay's
    code), or Alipay. The script is told in JSON; a form post without it is redirected (to
    our page even for Alipay: the CSP's form-action keeps a form on this site)."""
    action = result.next_action or {}
    target = str(action["url"]) if action.get("type") == "redirect" else paying
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"status": "redirect", "redirect": target})
    return redirect_after_post(request, paying)


def failure_sentence(payment: Payment | None) -> str | None:
    """Why the payment failed, as a message id (translated where it is shown)."""
    if payment is None or payment.status != PaymentStatus.FAILED:
        return None
    return reasons.sentence(payment.failure_code)


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
        signature=request.headers.get("stripe-signature"),
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


routes = [
    Route("/payments/admin", admin_payments, methods=["GET"]),
    Route("/payments/webhook", webhook, methods=["POST"]),
    Route("/payments/{id:id}/qr.svg", qr_code, methods=["GET"]),
]
# HTML POST routes that are not forms; the CSRF route-walk test skips exactly these.
CSRF_EXEMPT = frozenset({"/payments/webhook"})
