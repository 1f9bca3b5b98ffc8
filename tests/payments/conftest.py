"""Fixtures for payments: a clean localstripe, a test purpose that records fulfilments, and
real HTTP servers in this process (our app for webhooks, a proxy in front of localstripe)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from composition import AppWiring
from payments import services
from payments.models import Payment
from payments.provider import PaymentProvider
from settings import Settings
from tests.live import free_port

PURPOSE = "test_order"


@dataclass
class Ledger:
    """What the test purpose's handlers were told, in order."""

    succeeded: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    refunded: list[tuple[int, int]] = field(default_factory=list)


@pytest.fixture
def ledger(wired: AppWiring) -> Ledger:
    record = Ledger()

    async def fulfil(payment: Payment, now: datetime) -> services.Fulfilment:
        if payment.id not in record.succeeded:
            record.succeeded.append(payment.id)
        return services.Fulfilment.FULFILLED

    async def on_failed(payment: Payment) -> None:
        record.failed.append(payment.id)

    async def on_refunded(payment: Payment, amount_fen: int) -> None:
        record.refunded.append((payment.id, amount_fen))

    wired.purposes.register(
        PURPOSE,
        services.PurposeHandlers(fulfil=fulfil, on_failed=on_failed, on_refunded=on_refunded),
    )
    return record


@pytest.fixture(autouse=True)
async def empty_localstripe(localstripe_url: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.delete(f"{localstripe_url}/_config/data")).raise_for_status()


def provider_at(settings: Settings, api_base: str) -> PaymentProvider:
    return services.make_provider(
        api_base=api_base,
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
    )


@asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with a real uvicorn in this process and event loop (on `port`, else
    a free one)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def webhook_endpoint(settings: Settings, base_url: str) -> AsyncIterator[str]:
    """localstripe's webhooks go to the app at `base_url` (a real port) while this lasts."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{settings.stripe_api_base}/_config/webhooks/shuyuan",
            data={"url": f"{base_url}/payments/webhook", "secret": settings.stripe_webhook_secret},
        )
        response.raise_for_status()
    try:
        yield base_url
    finally:
        async with httpx.AsyncClient() as http:
            # localstripe cannot delete a webhook: point it at a port nobody listens on.
            await http.post(
                f"{settings.stripe_api_base}/_config/webhooks/shuyuan",
                data={"url": "http://127.0.0.1:9/", "secret": "unused"},
            )


@asynccontextmanager
async def webhooks_to(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """Our app on a real port, registered as localstripe's webhook endpoint."""
    async with serving(app) as base_url, webhook_endpoint(settings, base_url):
        yield base_url


Interceptor = Callable[[Request, Callable[[], Awaitable[Response]]], Awaitable[Response]]


@asynccontextmanager
async def proxy_to(upstream: str, intercept: Interceptor) -> AsyncIterator[str]:
    """A real HTTP proxy in front of localstripe that lets a test delay, drop or fail calls."""
    http = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def forward_request(request: Request) -> Response:
        body = await request.body()

        async def forward() -> Response:
            headers = {
                key: value
                for key, value in request.headers.items()
                if key.lower() not in ("host", "content-length")
            }
            upstream_response = await http.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=body,
                headers=headers,
            )
            return Response(
                upstream_response.content,
                status_code=upstream_response.status_code,
                media_type=upstream_response.headers.get("content-type"),
            )

        return await intercept(request, forward)

    proxy = Starlette(
        routes=[Route("/{path:path}", forward_request, methods=["GET", "POST", "DELETE"])]
    )
    try:
        async with serving(proxy) as base_url:
            yield base_url
    finally:
        await http.aclose()


def sign(secret: str, payload: bytes) -> str:
    """The Stripe-Signature header Stripe would send with `payload`."""
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256)
    return f"t={timestamp},v1={signature.hexdigest()}"


def signed_event(
    secret: str, event_type: str, intent: dict[str, Any], *, event_id: str | None = None
) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, made the way Stripe makes them."""
    timestamp = int(time.time())
    payload = json.dumps(
        {
            "id": event_id
            or f"evt_{hashlib.sha1(repr((event_type, intent)).encode()).hexdigest()}",
            "object": "event",
            "type": event_type,
            "created": timestamp,
            "data": {"object": intent},
        }
    ).encode()
    signature = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256)
    return payload, f"t={timestamp},v1={signature.hexdigest()}"


async def intent_json(settings: Settings, intent_id: str) -> dict[str, Any]:
    """The intent as localstripe has it (the `data.object` of its events)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{settings.stripe_api_base}/v1/payment_intents/{intent_id}",
            headers={"Authorization": f"Bearer {settings.stripe_secret_key}"},
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def intents_at_provider(settings: Settings) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{settings.stripe_api_base}/v1/payment_intents",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {settings.stripe_secret_key}"},
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data
