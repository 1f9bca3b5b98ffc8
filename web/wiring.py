"""Binds an app's wiring (wiring.Wiring) for each of its requests and for its lifespan."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from wiring import Wiring


class Wired:
    """The outermost middleware: everything the app runs sees the app's own wiring."""

    def __init__(self, app: ASGIApp, wiring: Wiring) -> None:
        self.app = app
        self.wiring = wiring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.wiring.bound():
            await self.app(scope, receive, send)
