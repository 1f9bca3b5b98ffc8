"""The one checkout: the pages through which a held thing (a store order, a membership seat)
is paid. A purpose hands it a Payable (how its thing is found, shown and paid for, and where
its pages live); this module owns the rest: the checkout page with its method picker
(templates/payments/checkout.html), the pay action, the page a buyer waits on while WeChat Pay
or Alipay is paid, the status poll, and the failure sentence. Store and membership import this
module, never payments' routes or API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts import consents, legal_documents, wechat_sign_in
from accounts.models import User
from accounts.wechat import WechatClient
from payments import reasons, services
from payments.held import Held, HeldState
from payments.models import Payment, PaymentStatus, PayMethod
from payments.provider import Payer
from payments.providers import sends_abroad
from payments.schemas import PayForm
from payments.settle import JSAPI_FIELDS, jsapi_parameters, wallet_action
from web.auth import client_address, require_user
from web.csrf import read_form
from web.decoding import read_fields
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, redirect_after_post, render


@dataclass(frozen=True)
class CheckoutUrls:
    """Where one held thing's checkout lives: the routes "<area>.checkout_page", ".pay",
    ".paying_page", ".payment_status" and ".cancel" of its package, for the thing's id; and
    where its buyer goes next."""

    area: str
    subject_id: int
    paid: str  # where the checkout's script sends a buyer whose payment went through
    receipt: str  # where the waiting page sends them
    over: str | None = None  # where a released thing's checkout goes (None: it says so itself)

    def _path(self, action: str) -> str:
        return links.path(f"{self.area}.{action}", id=self.subject_id)

    @property
    def checkout(self) -> str:
        return self._path("checkout_page")

    @property
    def pay(self) -> str:
        return self._path("pay")

    @property
    def paying(self) -> str:
        return self._path("paying_page")

    @property
    def status(self) -> str:
        return self._path("payment_status")

    @property
    def cancel(self) -> str:
        return self._path("cancel")


@dataclass(frozen=True)
class CheckoutView:
    """What a purpose shows on its checkout page beside what every checkout shows. The texts
    are message ids (marked N_ where they are written), translated on the page."""

    title: str
    what: str  # the thing, in the reader's language (the waiting page's heading)
    details: str  # template: what is paid for, its amount and its hold
    expired_note: str
    cancel_label: str
    form_fields: str | None = None  # template: fields of the purpose's own in the pay form
    back: tuple[str, str] | None = None  # (url, label) shown with the expired note
    context: Mapping[str, Any] = field(default_factory=dict)  # for the two templates


class Payable(Protocol):
    """What a purpose hands the one checkout."""

    @property
    def form(self) -> type[PayForm]:
        """Its pay form: PayForm, or one with fields of its own."""
        ...

    def urls(self, subject_id: int) -> CheckoutUrls: ...

    async def held(self, subject_id: int, user: User) -> Held:
        """The buyer's held thing; the purpose's not-found error for anyone else's."""
        ...

    async def view(self, request: Request, held: Held, user: User) -> CheckoutView: ...

    async def pay(
        self,
        request: Request,
        subject_id: int,
        user: User,
        form: Any,
        choice: services.PaymentChoice,
    ) -> services.PaymentResult:
        """Pay for it with `choice` (the purpose's pay service, which guards it again)."""
        ...


def site_origins(request: Request) -> tuple[str, ...]:
    """Our own origin, where an Alipay buyer may be sent back to: the public address only,
    never the request's Host (a client chooses that header; SHUYUAN_PUBLIC_URL)."""
    return (services.origin_of(request.app.state.settings.public_url),)


async def paid_with(payment_id: int | None) -> dict[str, Any]:
    """The fields an order or enrollment shows of its latest payment: how it was paid, and
    the wallet's next step while it waits (the same as the pay call answered)."""
    payment = await Payment.get_or_none(id=payment_id) if payment_id is not None else None
    return {
        "payment_method": payment.method.value if payment is not None else None,
        "next_action": wallet_action(payment) if payment is not None else None,
    }


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
    return links.join(path)


def flow_for(request: Request, method: str | None, asked: str | None = None) -> str | None:
    """The flow a payment by `method` takes in this browser: the one `asked` for (the API's
    `flow`), else for WeChat Pay paid directly JSAPI inside WeChat, H5 in another phone's
    browser and the QR code (native) on a computer, and for Alipay paid directly its WAP
    cashier on a phone and its page cashier on a computer; None: the method's first."""
    if asked is not None or method not in ("wechat_pay", "alipay"):
        return asked
    flows = request.app.state.payments_provider.flows
    device = device_of(request)
    if method == "alipay":
        return "wap" if device == "phone" and "wap" in flows else None
    if device == "wechat" and "jsapi" in flows:
        # JSAPI pays with the openid the official account's authorisation learns: without the
        # official account it cannot, and the QR code is what is left.
        return "jsapi" if request.app.state.settings.wechat_official is not None else None
    if device == "phone" and "h5" in flows:
        return "h5"
    return None


async def payer_of(request: Request, user: User, flow: str | None) -> Payer:
    """What WeChat Pay may need of who pays: the address of the request (the trusted proxy's
    X-Forwarded-For: web.auth.client_address) for H5, and for JSAPI (`flow`, picked inside
    WeChat or asked for by an API client) the account's openid in the official account bound
    to the merchant (from signing in with WeChat, or from a silent authorisation just for
    paying, kept in the session)."""
    account = request.app.state.settings.wechat_pay
    openid = None
    if account is not None and flow == "jsapi":
        openid = await wechat_sign_in.official_openid(user.id, app_id=account.appid)
        if openid is None and "session" in request.scope:
            openid = wechat_sign_in.paying_openid(request.session, user.id, account.appid)
    return Payer(address=client_address(request), openid=openid)


async def form_choice(
    request: Request, user: User, form: PayForm, paying: str
) -> services.PaymentChoice:
    """A checkout form's choice: a card's PaymentMethod, or a wallet (Alipay returning to the
    waiting page `paying` on the origin this buyer uses; WeChat Pay in this browser's flow)."""
    return services.PaymentChoice(
        payment_method=form.payment_method if form.method == "card" else None,
        method=form.method,
        return_url=return_url(request, paying) if form.method == "alipay" else None,
        site_origins=site_origins(request),
        flow=(flow := flow_for(request, form.method)),
        payer=await payer_of(request, user, flow),
    )


async def api_choice(
    request: Request, user: User, choice: services.PaymentChoice
) -> services.PaymentChoice:
    """An API pay call's choice with its flow (the server picks by device when `flow` is
    absent) and what the flow needs of the payer."""
    return replace(
        choice,
        flow=(flow := flow_for(request, choice.method, choice.flow)),
        payer=await payer_of(request, user, flow),
    )


def openid_needed(request: Request, user: User) -> bool:
    """Whether this checkout, inside WeChat with WeChat Pay's JSAPI, must first learn the
    buyer's openid (a silent authorisation: accounts.wechat_sign_in.start_for_paying)."""
    settings = request.app.state.settings
    return (
        settings.wechat_pay is not None
        and settings.wechat_official is not None
        and "wechat_pay" in offered_methods(request)
        and flow_for(request, "wechat_pay") == "jsapi"
        and wechat_sign_in.paying_openid(request.session, user.id, settings.wechat_pay.appid)
        is None
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
            **_development_links(request, payment),
            "jsapi": _jsapi_for_bridge(payment),
        },
    )


def _development_links(request: Request, payment: Payment) -> dict[str, str | None]:
    """In development the wallets' pages are on this machine (devserver.localstripe, or
    devserver.wechatpay): a link to the page a phone that scanned the code would open, and the
    stand-in's bridge page playing WeixinJSBridge outside WeChat. Never in production."""
    settings = request.app.state.settings
    if settings.is_production:
        return {"scan_link": None, "bridge_link": None}
    if payment.flow == "native" and services.direct_provider(
        request.app.state.payments_provider, "wechatpay"
    ):
        scan = f"{settings.wechatpay_api_base}/scan?{urlencode({'code_url': payment.action_url})}"
        return {"scan_link": scan, "bridge_link": None}
    if payment.flow == "jsapi":
        return {"scan_link": None, "bridge_link": f"{settings.wechatpay_api_base}/pay/jsapi"}
    return {"scan_link": payment.action_url, "bridge_link": None}


def _jsapi_for_bridge(payment: Payment) -> dict[str, str] | None:
    """A jsapi payment's parameters in WeixinJSBridge's own names."""
    if payment.flow != "jsapi":
        return None
    ours = jsapi_parameters(payment)
    return {theirs: ours[name] for theirs, name in JSAPI_FIELDS.items()}


def redirect_for_script(request: Request, target: str) -> Response:
    """On to `target` (a page of this site): told to the checkout script in JSON, a redirect
    after a plain form post."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"status": "redirect", "redirect": target})
    return redirect_after_post(request, target)


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
    """Why the payment failed, as a message id (translated where it is shown): the one
    sentence every checkout says of a failed payment."""
    if payment is None or payment.status != PaymentStatus.FAILED:
        return None
    return reasons.sentence(payment.failure_code)


def pay_answer(
    request: Request, result: services.PaymentResult, *, method: str, paying: str, done_url: str
) -> Response:
    """What a checkout's pay action answers its script (JSON, errors too in the API's shape):
    paid and where to go, failed and why (the thing stays held), 3-D Secure's client secret,
    or for a wallet the way on (wallet_next)."""
    if method != "card" and result.outcome == services.Outcome.REQUIRES_ACTION:
        return wallet_next(request, result, paying)
    if result.outcome == services.Outcome.PAID:
        return JSONResponse({"status": "paid", "redirect": done_url})
    if result.outcome == services.Outcome.FAILED:
        message = gettext_for(request)(result.reason or reasons.GENERIC)
        return JSONResponse({"status": "failed", "message": message, "code": result.code})
    return JSONResponse({"status": "requires_action", "client_secret": result.client_secret})


async def settled(request: Request, payment_id: int | None, *, eager: bool) -> Payment | None:
    """The held thing's latest payment, settled with the provider first while it is open (see
    services.refresh_payment); None when it has none."""
    if payment_id is None:
        return None
    return await services.refresh_payment(
        request.app.state.payments_provider, payment_id, now=datetime.now(UTC), eager=eager
    )


def status_answer(
    request: Request, payment: Payment | None, *, paid: bool, held: bool, done_url: str
) -> Response:
    """The checkout script's poll after 3-D Secure or while a wallet is paid: paid (and where
    to go), failed and why while the thing is still held (the buyer may try again), pending,
    or failed once the thing is no longer held."""
    _ = gettext_for(request)
    if paid:
        return JSONResponse({"status": "paid", "redirect": done_url})
    if held:
        failure = failure_sentence(payment)
        if failure is not None:
            return JSONResponse({"status": "failed", "message": _(failure)})
        return JSONResponse({"status": "pending"})
    return JSONResponse({"status": "failed", "message": _("The payment failed.")})


async def checkout_page(request: Request, payable: Payable) -> Response:
    """The checkout: what is paid for, how to pay (the methods this browser is offered), and
    the way to give the thing back. A paid thing goes on to where paid things go."""
    user = await require_user(request)
    held = await payable.held(request.path_params["id"], user)
    urls = payable.urls(held.subject_id)
    if held.state == HeldState.PAID:
        return redirect_after_post(request, urls.paid)
    if held.state == HeldState.OVER and urls.over is not None:
        return redirect_after_post(request, urls.over)
    if (
        held.state == HeldState.PAYABLE
        and openid_needed(request, user)
        and await wechat_sign_in.official_openid(
            user.id, app_id=request.app.state.settings.wechat_pay.appid
        )
        is None
    ):
        # Inside WeChat, JSAPI pays with the buyer's openid: learnt silently, then back here.
        url = wechat_sign_in.start_for_paying(
            request.session,
            WechatClient.from_settings(request.app.state.settings),
            user=user,
            next_path=urls.checkout,
            now=datetime.now(UTC),
        )
        return RedirectResponse(url, status_code=302)
    view = await payable.view(request, held, user)
    settings = request.app.state.settings
    return await render(
        request,
        "payments/checkout.html",
        {
            **view.context,
            "held": held,
            "view": view,
            "urls": urls,
            "expired": held.standing(datetime.now(UTC)) != HeldState.PAYABLE,
            "stripe_js": settings.stripe_js_url,
            "publishable_key": settings.stripe_publishable_key,
            "methods": offered_methods(request),
            "device": device_of(request),
            "wechat_flow": flow_for(request, "wechat_pay"),
            "cross_border": await cross_border_notice(request, user),
        },
    )


async def cross_border_notice(request: Request, user: User) -> dict[str, Any] | None:
    """What the checkout shows of the cross-border notice (PIPL art. 39) while this buyer must
    agree to it before paying with a method offered here whose provider is abroad: its text,
    its version and those methods; None when nothing is asked."""
    provider = request.app.state.payments_provider
    abroad = [m for m in offered_methods(request) if sends_abroad(provider, m)]
    versions = await consents.cross_border_needed(user.id) if abroad else None
    if versions is None:
        return None
    text = await legal_documents.legal_text(
        legal_documents.Document.CROSS_BORDER, versions.cross_border
    )
    return {"text": text, "methods": abroad}


async def agree_abroad(request: Request, user: User, form: PayForm) -> None:
    """The checkout's box ticked for a method abroad: the consent recorded, before paying."""
    if not form.cross_border or not sends_abroad(request.app.state.payments_provider, form.method):
        return
    versions = await consents.cross_border_needed(user.id)
    if versions is not None:
        await consents.agree(
            user,
            legal_documents.Document.CROSS_BORDER,
            versions.cross_border,
            source="checkout",
            now=datetime.now(UTC),
            locale=choose_locale(request),
        )


async def pay_action(request: Request, payable: Payable) -> Response:
    """Called by the checkout page's script (JSON back, errors too in the API's shape: the
    script asks for JSON), or posted without it (a wallet is then redirected on)."""
    user = await require_user(request)
    form = read_fields(await read_form(request), payable.form)
    subject_id = request.path_params["id"]
    urls = payable.urls(subject_id)
    paying = urls.paying
    choice = await form_choice(request, user, form, paying)
    await agree_abroad(request, user, form)
    result = await payable.pay(request, subject_id, user, form, choice)
    return pay_answer(request, result, method=form.method, paying=paying, done_url=urls.paid)


async def paying_page(request: Request, payable: Payable) -> Response:
    """Waiting for WeChat Pay or Alipay: the QR code and the time left, or, back from Alipay,
    the payment settled with the provider first (the webhook may come first or last). Paid:
    on to the receipt. Failed or over: back to checkout, saying why."""
    user = await require_user(request)
    subject_id = request.path_params["id"]
    held = await payable.held(subject_id, user)
    # Back from Alipay: its return is read (a forged one is logged) and Alipay is asked, about
    # the payment it names too when that one had been given up on (paid on an old page).
    returned = services.returned_trade(request.app.state.payments_provider, request.query_params)
    if returned is not None:
        await services.settle_returned(
            request.app.state.payments_provider, returned, user_id=user.id, now=datetime.now(UTC)
        )
    payment = await settled(request, held.payment_id, eager=True)
    held = await payable.held(subject_id, user)
    urls = payable.urls(held.subject_id)
    if held.state == HeldState.PAID:
        return RedirectResponse(urls.receipt, status_code=303)
    if held.state == HeldState.OVER:
        return RedirectResponse(urls.over or urls.checkout, status_code=303)
    view = await payable.view(request, held, user)
    return await waiting_page(
        request,
        payment,
        checkout_url=urls.checkout,
        status_url=urls.status,
        done_url=urls.receipt,
        amount_fen=held.amount_fen,
        what=view.what,
    )


async def status_poll(request: Request, payable: Payable) -> Response:
    """After 3-D Secure in the browser, or while a wallet is paid: settle with the provider
    (a wallet's at most every few seconds) and say where to go."""
    user = await require_user(request)
    subject_id = request.path_params["id"]
    held = await payable.held(subject_id, user)
    payment = await settled(request, held.payment_id, eager=False)
    held = await payable.held(subject_id, user)
    return status_answer(
        request,
        payment,
        paid=held.state == HeldState.PAID,
        held=held.state == HeldState.PAYABLE,
        done_url=payable.urls(held.subject_id).paid,
    )


def checkout_routes(area: str, base: str, payable: Payable) -> list[BaseRoute]:
    """The one checkout's four routes for a purpose, under `base` (e.g. "/store/orders/{id:id}"),
    named as CheckoutUrls finds them: "<area>.checkout_page", ".pay", ".paying_page",
    ".payment_status". (".cancel" is the purpose's own: giving a thing back is its rule.)"""

    async def checkout(request: Request) -> Response:
        return await checkout_page(request, payable)

    async def pay(request: Request) -> Response:
        return await pay_action(request, payable)

    async def paying(request: Request) -> Response:
        return await paying_page(request, payable)

    async def status(request: Request) -> Response:
        return await status_poll(request, payable)

    return [
        Route(f"{base}/pay", checkout, methods=["GET"], name=f"{area}.checkout_page"),
        Route(f"{base}/pay", pay, methods=["POST"], name=f"{area}.pay"),
        Route(f"{base}/status", status, methods=["GET"], name=f"{area}.payment_status"),
        Route(f"{base}/paying", paying, methods=["GET"], name=f"{area}.paying_page"),
    ]
