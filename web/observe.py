"""What an operator sees of each request: its id, its time, one log line; and /metrics.

Every request gets an id: the caller's `X-Request-ID` when it is a short plain token (a proxy
in front sets one), else a new one. It is returned as `X-Request-ID`, named in every log line
written while the request runs, and shown on error pages, so a person reporting a problem can
quote it. One JSON log line per request says the route (the endpoint's name, never the path:
paths carry podcast and card tokens), method, status and milliseconds; request latency goes
to the `shuyuan_request_seconds` histogram under the same route name.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import re
import secrets
import time
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import metrics

log = logging.getLogger("shuyuan.request")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def route_name(scope: Scope) -> str:
    """The endpoint's dotted name ("store.api.create_order"): few and fixed, unlike paths."""
    endpoint = scope.get("endpoint")
    if endpoint is None or isinstance(endpoint, Router):  # no route (or none inside a mount)
        return "unmatched"
    if not inspect.isfunction(endpoint):
        return type(endpoint).__name__  # an ASGI app: StaticFiles for /static and /media
    return f"{getattr(endpoint, '__module__', '?')}.{getattr(endpoint, '__qualname__', '?')}"


def request_id_of(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            given = value.decode("latin-1")
            if _GIVEN_ID.match(given):
                return str(given)
            break
    return secrets.token_hex(16)


class Observed:
    """The outermost middleware: the request's id, its time and its log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # This app's caches: the name of each endpoint, and the histogram child of each
        # (route, method, status class). The histogram itself lives in the process's one
        # Prometheus registry (metrics.py), as /metrics serves one process.
        self._route_names: dict[Any, str] = {}
        self._latency: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            endpoint = scope.get("endpoint")
            if inspect.isfunction(endpoint):  # a route's endpoint: named once
                route = self._route_names.get(endpoint) or self._route_names.setdefault(
                    endpoint, route_name(scope)
                )
            else:
                route = route_name(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            key = (route, method, status // 100)
            latency = self._latency.get(key)
            if latency is None:  # one labelled child per route, method and status class
                latency = metrics.REQUEST_SECONDS.labels(
                    route=route, method=method, status=f"{status // 100}xx"
                )
                self._latency[key] = latency
            latency.observe(seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "route": route,
                        "method": method,
                        "status": status,
                        "ms": round(seconds * 1000, 1),
                    },
                )
            REQUEST_ID.reset(token)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def allowed(request: Request) -> bool:
    """Whether the caller's address is one /metrics is served to (settings.metrics_from)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    networks = request.app.state.settings.metrics_from
    return any(address in ipaddress.ip_network(network) for network in networks)


async def metrics_page(request: Request) -> Response:
    if not allowed(request):
        return PlainTextResponse("Not Found", status_code=404)
    # Gauges read at scrape time (the job queue's), refreshed by what the app factory gave.
    before_scrape = getattr(request.app.state, "before_scrape", None)
    if before_scrape is not None:
        await before_scrape()
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_page, methods=["GET"], name="site.metrics")]
