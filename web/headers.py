"""Browser protections on every response: what scripts may run, who may frame us, what leaks.

The Content-Security-Policy allows scripts and styles from this site only, plus the payment
provider's Stripe.js (its script, the frames of its 3-D Secure step, its API): no inline
script, no eval, no inline style attribute. Every script of ours is a static file; behaviour
that was inline lives in static/js/. HSTS is sent when the request came over https.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS = (
    "camera=(), microphone=(), geolocation=(), usb=(), serial=(), bluetooth=(), "
    "magnetometer=(), gyroscope=(), accelerometer=(), payment=(self)"
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """The policy for `settings` (Stripe's own origins in production, localstripe's else)."""
    provider = sorted({_origin(settings.stripe_js_url), _origin(settings.stripe_api_base)})
    frames = [*provider, "https://hooks.stripe.com"] if settings.is_production else provider
    sources = " ".join(provider)
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {sources}",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self'",
            f"connect-src 'self' {sources}",
            f"frame-src {' '.join(frames)}",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


class BrowserProtections:
    """ASGI middleware adding the protective headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.policy = content_security_policy(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def protected_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.policy)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # Our URLs carry ids and tokens (a private podcast feed, an order): nothing of
                # them leaves the site in a Referer.
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", PERMISSIONS)
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if secure:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, protected_send)
