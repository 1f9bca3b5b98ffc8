"""The Host headers served (SHUYUAN_ALLOWED_HOSTS): any other gets 400 before a route runs.

Starlette's TrustedHostMiddleware, except for the probes a load balancer, a container runtime
or a Prometheus scraper sends to an address rather than the site's name (/healthz, /metrics):
they build no URL, and /metrics has its own address check (SHUYUAN_METRICS_FROM).
"""

from __future__ import annotations

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send

PROBES = frozenset({"/healthz", "/metrics"})


class ServedHosts(TrustedHostMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
