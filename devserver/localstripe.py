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
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import segno
from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

from devserver import wallet_pages
from devserver.wallet_pages import WALLETS

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

# The currencies Stripe takes for each (its documentation's lists, trimmed to the common ones).
WALLET_CURRENCIES = {
    "wechat_pay": {"cny", "aud", "cad", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "dkk", "nok"},
    "alipay": {"cny", "aud", "cad", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "myr", "nzd"},
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
    server.app.middlewares.insert(1, wallet_pages.serve)
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
