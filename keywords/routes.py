"""The keyword box's page (/feed/lookup, where the box on every page sends its word): the feed's
item with the keyword, an auto-reply's replies as cards, or, when nothing answers, today's
keyword as a hint."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from community.feed.errors import UnknownKeyword
from community.feed.schemas import KeywordQuery
from keywords import services
from web.auth import current_user
from web.decoding import read_query
from web.rendering import render


async def lookup_page(request: Request) -> Response:
    keyword = read_query(request, KeywordQuery).keyword
    context: dict[str, object] = {"keyword": keyword, "item": None, "replies": None, "hint": None}
    status = 200
    if keyword.strip():
        try:
            found = await services.answer(
                keyword,
                now=datetime.now(UTC),
                reader=await current_user(request),
                memories=services.Memories.of(request.app.state.memory),
            )
        except UnknownKeyword as exc:
            context["hint"] = exc.details.get("hint")
            context["unknown"] = True
            status = 404
        else:
            if isinstance(found, services.FeedAnswer):
                context["item"] = found.item
            else:
                context["replies"] = found.replies
    return await render(request, "keywords/lookup.html", context, status_code=status)


def routes() -> list[BaseRoute]:
    # The keyword box's address is the one the feed gave it: old links keep working.
    return [Route("/feed/lookup", lookup_page, methods=["GET"], name="keywords.lookup_page")]
