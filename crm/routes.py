"""The members' side of broadcasts: a broadcast read on the site (where its inbox notice
leads), and the counted redirect of a mailed link."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from crm import broadcasts
from crm.errors import BroadcastNotFound
from errors import ValidationError
from web.auth import require_user
from web.rendering import render


async def message_page(request: Request) -> Response:
    """A broadcast as its recipients read it (and staff who send broadcasts); to anyone else
    it does not exist."""
    user = await require_user(request)
    broadcast = await broadcasts.get(request.path_params["id"])
    if not user.may(Capability.OUTREACH) and not await broadcasts.was_recipient(
        broadcast.id, user.id
    ):
        raise BroadcastNotFound()
    return await render(request, "crm/message.html", {"broadcast": broadcast})


async def click(request: Request) -> Response:
    """A mailed link's one click: counted, then on to the link's target as the broadcast
    holds it. A link that is not ours goes to the home page."""
    try:
        target = await broadcasts.record_click(
            request.path_params["token"][:300], now=datetime.now(UTC)
        )
    except (ValidationError, BroadcastNotFound):
        target = links.path("site.home")
    response = RedirectResponse(target, status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/messages/{id:id}", message_page, methods=["GET"], name="crm.message"),
        Route("/m/{token}", click, methods=["GET"], name="crm.click"),
    ]
