"""Run localstripe, the fake Stripe of development and tests, without its slow disk store, and
with WeChat Pay and Alipay imitated (localstripe 1.15.10 knows only cards and SEPA debits).

localstripe pickles its whole store to /tmp/localstripe.pickle on every write: two instances would
share that file, and each payment gets slower as the store grows. Here the store lives in memory
only and each start is a clean one; `DELETE /_config/data` empties it between tests. It listens on
127.0.0.1 only. Development and tests only: production talks to Stripe.

What of Stripe's WeChat Pay and Alipay this imitates, and nothing more:
- PaymentMethods of type `wechat_pay` and `alipay`, made from a PaymentIntent's
  `payment_method_data[type]` (no other fields); the intent's `allowed_payment_method_types`
  (the stripe SDK 16 name) or `payment_method_types` must then name that type, and its currency
  be one Stripe takes for the method (cny among them).
- Confirming such an intent: WeChat Pay needs `payment_method_options[wechat_pay][client]=web`,
  Alipay a `return_url`, else 400 with Stripe's `parameter_missing` code. The intent goes to
  `requires_action` with Stripe's next actions: `wechat_pay_display_qr_code` {data,
  image_data_url, image_url_png, image_url_svg, hosted_instructions_url} or
  `alipay_handle_redirect` {url, native_url, native_data, return_url}.
- The QR's `data` is the URL of a local "scanned with WeChat" page, and Alipay's `url` a local
  "Alipay" page; each has Pay and Decline buttons (a person, or a test, plays the buyer). Pay
  charges the intent (`succeeded`, webhook `payment_intent.succeeded`); Decline leaves it
  `requires_payment_method` with `last_payment_error.code =
  payment_intent_payment_attempt_failed` (webhook `payment_intent.payment_failed`). Alipay's
  page then sends the browser to `return_url` with `payment_intent`,
  `payment_intent_client_secret` and `redirect_status` (succeeded | failed), as Stripe does.
- A canceled intent's pages answer 410 "no longer payable"; refunds (partial too) go through the
  ordinary /v1/refunds on the charge Pay made.
Not imitated: the real apps, a QR that expires on its own or intents Stripe cancels after a
while (our app cancels an abandoned one when its hold runs out), `native_url`/`native_data`
opening an app, mini-program and in-app clients, delayed or asynchronous settlement.

Which fakes work: this module over localstripe 1.15.10 (pinned in pyproject.toml's dev extra).
Upstream localstripe alone (1.15.x) refuses our card payments: the stripe SDK 16 sends
`allowed_payment_method_types`, which real Stripe takes and upstream localstripe does not know;
this module teaches it that name. stripe-mock answers with fixtures and settles nothing.

    python -m devserver.localstripe --port 8420   (from a checkout: devserver/ is not shipped)
"""

from __future__ import annotations

import argparse
import html
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import segno
from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

# localstripe's Stripe.js stand-in leaves createPaymentMethod empty; this gives it the real
# signature, createPaymentMethod({type: "card", card: element}) -> {paymentMethod} | {error}, by
# posting the fake card element's fields with the publishable key (as Stripe.js does).
BROWSER_PATCH = """
;(function () {
  const makeStripe = Stripe;
  Stripe = (apiKey) => {
    const stripe = makeStripe(apiKey);
    stripe.createPaymentMethod = async (options) => {
      const element = options.card || options.element;
      const card = element && element.value && element.value.card;
      if (!card || !card.number) {
        return {error: {message: 'Enter the card number.'}};
      }
      const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
        method: 'POST',  // no JSON content type: a simple CORS request, as localstripe's own
        body: JSON.stringify({key: apiKey, type: 'card', card: card}),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status !== 200 || body.error) {
        return {error: body.error || {message: 'The card was refused.'}};
      }
      return {paymentMethod: body};
    };
    return stripe;
  };
})();
"""


@web.middleware
async def _browser_payment_methods(request: web.Request, handler: Any) -> web.StreamResponse:
    """Serve the patched Stripe.js, and let it create PaymentMethods with the publishable key."""
    if request.method == "GET" and request.path == "/js.stripe.com/v3/":
        original = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
        return web.Response(text=original + BROWSER_PATCH, content_type="application/javascript")
    if (
        request.method == "POST"
        and request.path == "/v1/payment_methods"
        and "Authorization" not in request.headers
    ):
        try:
            data = json.loads(await request.text())
        except ValueError:
            data = {}
        if str(data.get("key", "")).startswith("pk_"):
            card = data.get("card") or {}
            method = resources.PaymentMethod._api_create(
                type="card",
                card={key: card.get(key) for key in ("number", "exp_month", "exp_year", "cvc")},
            )
            return web.json_response(method._export())
    response: web.StreamResponse = await handler(request)
    return response


def _keep_in_memory(self: resources.Store) -> None:
    """Replaces Store.dump_to_disk: nothing is written."""


# ---- WeChat Pay and Alipay, imitated (see the module's docstring for what and what not) ----

WALLETS = ("wechat_pay", "alipay")
# The currencies Stripe takes for each (its documentation's lists, trimmed to the common ones).
WALLET_CURRENCIES = {
    "wechat_pay": {"cny", "aud", "cad", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "dkk", "nok"},
    "alipay": {"cny", "aud", "cad", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "myr", "nzd"},
}
DECLINED = {
    "code": "payment_intent_payment_attempt_failed",
    "message": "The customer declined the payment in the wallet app.",
}
WECHAT_CLIENT = "payment_method_options[wechat_pay][client]"
_base_url = "http://127.0.0.1:8420"  # where this process answers (set by main)

_original_method_init = resources.PaymentMethod.__init__
_original_intent_init = resources.PaymentIntent.__init__
_original_last_error = resources.PaymentIntent.last_payment_error


def _method_init(self: Any, type: Any = None, **kwargs: Any) -> None:
    """PaymentMethod(type=wechat_pay|alipay), with no details (Stripe asks for none)."""
    if type not in WALLETS:
        _original_method_init(self, type=type, **kwargs)
        return
    extra = set(kwargs) - {"billing_details", "metadata", type}
    if extra or kwargs.get(type) not in (None, {}, ""):
        raise UserError(400, "Unexpected " + ", ".join(sorted(extra or {type})))
    resources.StripeObject.__init__(self)
    self.type = type
    self.billing_details = kwargs.get("billing_details") or {}
    self.customer = None
    self.metadata = kwargs.get("metadata") or {}
    setattr(self, type, {})


def _listed(value: Any) -> list[str] | None:
    """A form-encoded list (`x[0]=a&x[1]=b` arrives as {"0": "a", "1": "b"}) as a list."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value[key] for key in sorted(value, key=lambda k: int(k) if k.isdigit() else 0)]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserError(400, "Bad request")
    return list(value)


def _intent_init(
    self: Any,
    payment_method_data: Any = None,
    allowed_payment_method_types: Any = None,
    payment_method_types: Any = None,
    return_url: Any = None,
    **kwargs: Any,
) -> None:
    """A PaymentIntent that may carry payment_method_data for a wallet."""
    types = _listed(allowed_payment_method_types) or _listed(payment_method_types)
    if payment_method_data is not None:
        if not isinstance(payment_method_data, dict) or payment_method_data.get("type") not in (
            WALLETS
        ):
            raise UserError(400, "Bad request: payment_method_data[type] must be a wallet here")
        if kwargs.get("payment_method"):
            raise UserError(400, "payment_method and payment_method_data exclude each other")
        wallet = payment_method_data["type"]
        if types is not None and wallet not in types:
            raise UserError(
                400,
                f"The payment method type {wallet} is not in this PaymentIntent's types.",
                {"code": "payment_intent_invalid_parameter", "param": "payment_method_data"},
            )
        currency = str(kwargs.get("currency") or "").lower()
        if currency not in WALLET_CURRENCIES[wallet]:
            raise UserError(
                400,
                f"{wallet} does not support the currency {currency}.",
                {"code": "payment_intent_invalid_parameter", "param": "currency"},
            )
        kwargs["payment_method"] = resources.PaymentMethod(type=wallet).id  # stored by its init
    _original_intent_init(self, payment_method_types=types, **kwargs)
    self.payment_method_types = types or ["card"]
    self._return_url = return_url if isinstance(return_url, str) else None
    self._wallet_error = None


def _wallet_of(intent: Any) -> str | None:
    if not intent.payment_method:
        return None
    method = resources.PaymentMethod._api_retrieve(intent.payment_method)
    return method.type if method.type in WALLETS else None


def _last_payment_error(self: Any) -> Any:
    if getattr(self, "_wallet_error", None):
        return dict(self._wallet_error)
    return _original_last_error.fget(self)


def _confirm_wallet(obj: Any, wallet: str, return_url: Any = None, **kwargs: Any) -> Any:
    """Confirm a wallet's intent: it goes to requires_action with Stripe's next action."""
    options = kwargs.pop("payment_method_options", None)
    kwargs.pop("id", None)
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    if obj.status != "requires_confirmation":
        raise UserError(400, "Bad request")
    if wallet == "wechat_pay":
        client = ((options or {}).get("wechat_pay") or {}).get("client")
        if client != "web":
            raise UserError(
                400,
                f"{WECHAT_CLIENT} is required (web, ios or android);"
                " this imitation knows web only.",
                {"code": "parameter_missing", "param": WECHAT_CLIENT},
            )
        page = f"{_base_url}/_wallet/wechat_pay/{obj.id}"
        qr = segno.make(page, error="m")
        obj.next_action = {
            "type": "wechat_pay_display_qr_code",
            "wechat_pay_display_qr_code": {
                "data": page,
                "image_data_url": qr.png_data_uri(scale=4),
                "image_url_png": f"{page}/qr.png",
                "image_url_svg": f"{page}/qr.svg",
                "hosted_instructions_url": f"{page}/instructions",
            },
        }
    else:
        url = return_url if isinstance(return_url, str) else obj._return_url
        if not url or urlsplit(url).scheme not in ("http", "https"):
            raise UserError(
                400,
                "A return_url (http or https) is required to confirm an Alipay payment.",
                {"code": "parameter_missing", "param": "return_url"},
            )
        obj._return_url = url
        page = f"{_base_url}/_wallet/alipay/{obj.id}"
        obj.next_action = {
            "type": "alipay_handle_redirect",
            "alipay_handle_redirect": {
                "url": page,
                "native_url": f"{page}?native=1",
                "native_data": f"alipay-imitation:{obj.id}",
                "return_url": url,
            },
        }
    obj._wallet_error = None
    obj._authentication_failed = False
    return obj


_original_card_confirm = resources.PaymentIntent._confirm


def _confirm(self: Any, on_failure_now: Any) -> None:
    if _wallet_of(self) is not None:  # `confirm=true` at creation: not imitated
        raise UserError(400, "Confirm a wallet's PaymentIntent with /confirm (not imitated)")
    _original_card_confirm(self, on_failure_now)


@web.middleware
async def _wallet_confirm(request: web.Request, handler: Any) -> web.StreamResponse:
    """POST /v1/payment_intents/{id}/confirm of a wallet's intent (after the API key check:
    localstripe's own route cannot be replaced, it was bound when localstripe was imported)."""
    parts = request.path.strip("/").split("/")
    if (
        request.method == "POST"
        and len(parts) == 4
        and parts[:2] == ["v1", "payment_intents"]
        and parts[3] == "confirm"
    ):
        try:
            intent = resources.PaymentIntent._api_retrieve(parts[2])
        except UserError:
            intent = None
        wallet = _wallet_of(intent) if intent is not None else None
        if wallet is not None:
            data = await server.get_post_data(request) or {}
            data.pop("expand", None)
            confirmed: web.StreamResponse = server.json_response(
                _confirm_wallet(intent, wallet, **data)._export()
            )
            return confirmed
    response: web.StreamResponse = await handler(request)
    return response


def _waiting_intent(request: web.Request, wallet: str) -> Any:
    """The intent a wallet page is about, if it waits for this wallet; else None."""
    intent_id = request.match_info["id"]
    try:
        intent = resources.PaymentIntent._api_retrieve(intent_id)
    except UserError:
        return None
    action = intent.next_action or {}
    wanted = "wechat_pay_display_qr_code" if wallet == "wechat_pay" else "alipay_handle_redirect"
    if intent.status != "requires_action" or action.get("type") != wanted:
        return None
    return intent


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;
text-align:center}} .amount{{font-size:2.2rem;margin:1rem 0}} button{{font-size:1.1rem;
padding:.7rem 1.4rem;margin:.4rem;border-radius:.4rem;border:1px solid #555;cursor:pointer}}
.pay{{background:{color};color:#fff;border-color:{color}}} .note{{color:#555;font-size:.85rem}}
</style></head><body>
<p class="note">本地模拟 · a local imitation for development and tests, not {name}</p>
<h1>{title}</h1>{body}</body></html>"""
NAMES = {"wechat_pay": ("微信支付 WeChat Pay", "#07c160"), "alipay": ("支付宝 Alipay", "#1677ff")}


def _page(wallet: str, body: str, *, status: int = 200) -> web.Response:
    name, color = NAMES[wallet]
    return web.Response(
        text=PAGE.format(title=html.escape(name), name=html.escape(name), color=color, body=body),
        status=status,
        content_type="text/html",
    )


def _gone(wallet: str) -> web.Response:
    words = "这笔付款已不能支付。This payment can no longer be paid."
    return _page(wallet, f"<p>{words}</p>", status=410)


async def wallet_page(request: web.Request) -> web.StreamResponse:
    """The page the QR code opens ("scanned with WeChat"), or Alipay's redirect page."""
    wallet = request.match_info["wallet"]
    intent = _waiting_intent(request, wallet)
    if intent is None:
        return _gone(wallet)
    amount = f"¥{intent.amount // 100}.{intent.amount % 100:02d}"
    base = f"/_wallet/{wallet}/{intent.id}"
    body = (
        f'<p class="amount">{html.escape(amount)}</p>'
        f'<form method="post" action="{base}/pay"><button class="pay" type="submit">'
        "确认支付 Pay</button></form>"
        f'<form method="post" action="{base}/decline"><button type="submit">'
        "拒绝 Decline</button></form>"
    )
    return _page(wallet, body)


async def wallet_answer(request: web.Request) -> web.StreamResponse:
    """Pay or Decline, pressed on a wallet page."""
    wallet = request.match_info["wallet"]
    intent = _waiting_intent(request, wallet)
    if intent is None:
        return _gone(wallet)
    intent.next_action = None
    paid = request.match_info["answer"] == "pay"
    if paid:
        intent._create_charge(on_failure_now=intent._report_async_failure)
    else:
        intent.payment_method = None
        intent._wallet_error = dict(DECLINED)
        schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
    if wallet == "alipay" and intent._return_url:
        query = urlencode(
            {
                "payment_intent": intent.id,
                "payment_intent_client_secret": intent.client_secret,
                "redirect_status": "succeeded" if paid else "failed",
            }
        )
        joiner = "&" if urlsplit(intent._return_url).query else "?"
        raise web.HTTPSeeOther(f"{intent._return_url}{joiner}{query}")
    words = "已支付。Paid." if paid else "已拒绝。Declined."
    return _page(wallet, f'<p class="amount">{words}</p>')


async def wechat_qr(request: web.Request) -> web.StreamResponse:
    """image_url_png / image_url_svg, and the hosted instructions page that shows the code."""
    intent = _waiting_intent(request, "wechat_pay")
    if intent is None:
        return _gone("wechat_pay")
    code = segno.make(f"{_base_url}/_wallet/wechat_pay/{intent.id}", error="m")
    kind = request.match_info["kind"]
    if kind == "qr.png":
        return web.Response(body=_qr_bytes(code, "png"), content_type="image/png")
    svg = _qr_bytes(code, "svg").decode()
    if kind == "qr.svg":
        return web.Response(text=svg, content_type="image/svg+xml")
    body = (
        f"<p>用微信扫一扫下面的二维码付款。Scan this code with WeChat to pay.</p>{svg}"
        '<p class="note">在另一台设备上打开本页即可扫码。'
        "Open this page on another device to scan it.</p>"
    )
    return _page("wechat_pay", body)


def _qr_bytes(code: Any, kind: str) -> bytes:
    import io

    out = io.BytesIO()
    code.save(out, kind=kind, scale=6, border=2, **({"xmldecl": False} if kind == "svg" else {}))
    return out.getvalue()


@web.middleware
async def _wallet_pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """The wallet pages answer without an API key, as Stripe's hosted pages do."""
    parts = request.path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "_wallet" and parts[1] in WALLETS:
        request.match_info.update({"wallet": parts[1], "id": parts[2]})
        if len(parts) == 3 and request.method == "GET":
            return await wallet_page(request)
        if len(parts) == 4 and request.method == "POST" and parts[3] in ("pay", "decline"):
            request.match_info["answer"] = parts[3]
            return await wallet_answer(request)
        if (
            len(parts) == 4
            and request.method == "GET"
            and parts[1] == "wechat_pay"
            and parts[3] in ("qr.png", "qr.svg", "instructions")
        ):
            request.match_info["kind"] = parts[3]
            return await wechat_qr(request)
        raise web.HTTPNotFound()
    response: web.StreamResponse = await handler(request)
    return response


def _imitate_wallets() -> None:
    resources.PaymentMethod.__init__ = _method_init
    resources.PaymentIntent.__init__ = _intent_init
    resources.PaymentIntent.last_payment_error = property(_last_payment_error)
    resources.PaymentIntent._confirm = _confirm


def main() -> None:
    parser = argparse.ArgumentParser(prog="devserver.localstripe", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()

    global _base_url
    _base_url = f"http://{args.host}:{args.port}"
    resources.Store.dump_to_disk = _keep_in_memory
    resources.store.clear()
    _imitate_wallets()
    # After localstripe's error middleware (which turns its UserErrors into JSON), before auth.
    server.app.middlewares.insert(1, _browser_payment_methods)
    server.app.middlewares.insert(1, _wallet_pages)
    server.app.middlewares.insert(4, _wallet_confirm)  # after localstripe's API key check
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO)
    web.run_app(
        server.app,
        host=args.host,
        port=args.port,
        access_log=None if args.quiet else logging.getLogger("aiohttp.access"),
        print=None,
    )


if __name__ == "__main__":
    main()
