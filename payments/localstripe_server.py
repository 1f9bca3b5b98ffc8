"""Run localstripe, the fake Stripe of development and tests, without its slow disk store.

localstripe pickles its whole store to /tmp/localstripe.pickle on every write: two instances would
share that file, and each payment gets slower as the store grows. Here the store lives in memory
only and each start is a clean one; `DELETE /_config/data` empties it between tests. It listens on
127.0.0.1 only. Development and tests only: production talks to Stripe.

    python -m payments.localstripe_server --port 8420
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server

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


def main() -> None:
    parser = argparse.ArgumentParser(prog="localstripe_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()

    resources.Store.dump_to_disk = _keep_in_memory
    resources.store.clear()
    # After localstripe's error middleware (which turns its UserErrors into JSON), before auth.
    server.app.middlewares.insert(1, _browser_payment_methods)
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
