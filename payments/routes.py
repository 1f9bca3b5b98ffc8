"""The provider's webhook endpoint. Not a form: its signature, not a CSRF token, proves origin."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payments import services


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


routes = [Route("/payments/webhook", webhook, methods=["POST"])]
# HTML POST routes that are not forms; the CSRF route-walk test skips exactly these.
CSRF_EXEMPT = frozenset({"/payments/webhook"})
