"""The front page: today across Shuyuan (front.services), rendered for one reader."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from front import services
from translation import N_
from web.auth import current_user
from web.rendering import kept_fragment, render

SHANGHAI = ZoneInfo("Asia/Shanghai")


def greeting(now: datetime) -> str:
    """Good morning, afternoon or evening, as it is in Shanghai (a message id)."""
    hour = now.astimezone(SHANGHAI).hour
    if 5 <= hour < 12:
        return N_("Good morning, %(name)s.")
    if 12 <= hour < 18:
        return N_("Good afternoon, %(name)s.")
    return N_("Good evening, %(name)s.")


async def home(request: Request) -> Response:
    user = await current_user(request)
    now = datetime.now(UTC)
    memory = request.app.state.memory
    today = await services.today(
        viewer=user,
        now=now,
        memories=services.Memories(front=memory.front, feed=memory.feed, seats=memory.seats),
    )
    # The parts every reader of one kind sees alike are rendered once per language and
    # signed-in state, and kept with them until they are refilled.
    shared_html = kept_fragment(
        request,
        today.shared.rendered,
        "_today_shared.html",
        {"shared": today.shared, "come_back_to": "/"},
        signed_in=user is not None,
    )
    return await render(
        request,
        "home.html",
        {
            "today": today,
            "now": now,
            "greeting": greeting(now),
            "shared_html": shared_html,
        },
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks."""
    return [Route("/", home, methods=["GET"], name="site.home")]
