"""The feed's pages: the feed, an item, search, audio (Range), podcast RSS and artwork. The
keyword box's page is keywords.routes (it answers more than the feed's keywords)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from community.feed import analytics, artwork, podcast, rss, schemas, services
from community.feed.audio import audio_key
from storage import STORAGE
from translation import supported
from web.auth import current_user, require_user
from web.csrf import read_form
from web.decoding import read_query
from web.i18n import choose_locale
from web.rendering import (
    flash,
    gettext_for,
    is_htmx,
    kept_fragment,
    redirect_after_post,
    render,
)
from web.stored import stored_response


async def feed(request: Request) -> Response:
    now = datetime.now(UTC)
    user = await current_user(request)
    access = services.full_access(user, now)
    cursor = read_query(request, schemas.FeedQuery).cursor or None
    page = await services.feed_page(
        now=now, full_access=access, cursor=cursor, memory=request.app.state.memory.feed
    )
    analytics.count_feed_view(
        request.app.state.memory.feed,
        [item.id for item in page.items],
        first_page=cursor is None,
        user_id=user.id if user else None,
    )
    # The list is the same for every reader with the same access and language: it is rendered
    # once per cached page (see services.feed_page) and reused until the page is refilled.
    fragment = is_htmx(request) and cursor is not None
    etag = f'W/"{page.etag}-{choose_locale(request)}-{int(fragment)}"'
    if user is None and request.headers.get("if-none-match") == etag:
        # The same for every anonymous reader: browsers and proxies revalidate cheaply.
        return Response(status_code=304, headers={"ETag": etag, "Vary": "HX-Request, Cookie"})
    template = "community/_items.html" if fragment else "community/_feed_content.html"
    context = {"page": page, "first_page": cursor is None, "come_back_to": links.path("feed.feed")}
    content = kept_fragment(request, page.rendered, template, context, signed_in=user is not None)
    if fragment:
        response: Response = HTMLResponse(content)
    else:
        response = await render(request, "community/feed.html", {"content": content})
    response.headers["Vary"] = "HX-Request, Cookie"
    if user is None:
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = "no-cache"
    return response


async def item_page(request: Request) -> Response:
    now = datetime.now(UTC)
    user = await current_user(request)
    item = await services.visible_item(
        request.path_params["id"],
        now=now,
        full_access=services.full_access(user, now),
        admin=bool(user and user.may(Capability.FEED)),
        memory=request.app.state.memory.feed,
    )
    analytics.count_item_view(
        request.app.state.memory.feed, item.id, user_id=user.id if user else None
    )
    # The item's card and link previews are the same for every reader with the same access,
    # language and signed-in state: rendered once per kept view of the item (the day's item,
    # opened by everyone at 07:00), as the feed's pages are.
    context = {"item": item, "come_back_to": links.path("feed.item_page", id=item.id)}
    signed_in = user is not None
    meta = kept_fragment(
        request, item.rendered, "community/_meta.html", context, signed_in=signed_in
    )
    card = kept_fragment(
        request, item.rendered, "community/_item_card.html", context, signed_in=signed_in
    )
    return await render(
        request, "community/item.html", {"item": item, "item_meta": meta, "item_card": card}
    )


async def search_page(request: Request) -> Response:
    now = datetime.now(UTC)
    user = await current_user(request)
    query = read_query(request, schemas.SearchQuery).q
    results = (
        await services.search_items(query, now=now, full_access=services.full_access(user, now))
        if query.strip()
        else []
    )
    return await render(request, "community/search.html", {"q": query, "results": results})


async def audio(request: Request) -> Response:
    """The audio file, with Range (206/416), ETag and cache headers. Members-only audio goes
    to members only: signed in, or through their podcast token (`?token=`)."""
    now = datetime.now(UTC)
    name = request.path_params["name"]
    user = await current_user(request)
    token = read_query(request, schemas.PodcastTokenQuery).token
    if token:
        settings = request.app.state.settings
        user = await podcast.user_for_podcast_token(token, settings.secret_key) or user
    item = await services.audio_for_listener(
        name, user=user, now=now, memory=request.app.state.memory.feed
    )
    etag = f'"{name}"'  # the name holds the content's hash: it changes with the file
    cache = (
        "public, max-age=31536000, immutable" if not item.members_only else "private, max-age=86400"
    )
    headers = {"ETag": etag, "Cache-Control": cache, "Vary": "Cookie"}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    analytics.count_play(
        request.app.state.memory.feed,
        item.id,
        byte_range=request.headers.get("range", ""),
        user_id=user.id if user else None,
    )
    # Read from disk or the bucket here, or by nginx after this check (X-Accel-Redirect).
    return await stored_response(
        request,
        STORAGE.get(),
        audio_key(name),
        media_type=item.audio_type or "application/octet-stream",
        headers=headers,
        accel_prefix=request.app.state.settings.accel_redirect,
    )


async def podcast_page(request: Request) -> Response:
    user = await require_user(request)
    token = await podcast.podcast_token(user, request.app.state.settings.secret_key)
    url = links.absolute_with_token("feed.podcast_rss", token)
    now = datetime.now(UTC)
    return await render(
        request,
        "community/podcast.html",
        {"rss_url": url, "full_access": services.full_access(user, now)},
    )


async def podcast_reset(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    await podcast.reset_podcast_token(user, request.app.state.settings.secret_key)
    flash(
        request,
        gettext_for(request)("A new podcast address was made; the old one no longer works."),
        "success",
    )
    return redirect_after_post(request, links.path("feed.podcast_page"))


async def podcast_rss(request: Request) -> Response:
    """RSS 2.0 with Apple's podcast tags (community.feed.rss); enclosures carry the
    token so podcast apps need no cookie."""
    token = request.path_params["token"]
    settings = request.app.state.settings
    user = await podcast.user_for_podcast_token(token, settings.secret_key)
    if user is None:
        raise HTTPException(status_code=404, detail="This podcast address is unknown or was reset.")
    now = datetime.now(UTC)
    page = await services.feed_page(
        now=now,
        full_access=services.full_access(user, now),
        limit=50,
        memory=request.app.state.memory.feed,
    )
    xml = rss.podcast_rss(
        page.items,
        rss.Listener(token=token, locale=supported(user.locale)),
        owner=settings.podcast_owner,
        artwork_url=links.absolute("feed.podcast_artwork"),
        now=now,
    )
    etag = '"' + hashlib.sha256(xml.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(xml, media_type="application/rss+xml; charset=utf-8", headers=headers)


async def podcast_artwork(request: Request) -> Response:
    """The podcast's artwork (community.feed.artwork): one address for every feed, revalidated
    by its ETag after an hour (a new upload shows within the hour)."""
    key, stored = await artwork.artwork_object()
    etag = f'"artwork-{stored.etag.strip(chr(34))[:40]}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return await stored_response(
        request, STORAGE.get(), key, media_type="image/jpeg", headers=headers
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/feed", feed, methods=["GET"], name="feed.feed"),
        Route("/feed/items/{id:id}", item_page, methods=["GET"], name="feed.item_page"),
        Route("/feed/search", search_page, methods=["GET"], name="feed.search_page"),
        Route("/feed/audio/{name:str}", audio, methods=["GET"], name="feed.audio"),
        Route("/feed/podcast", podcast_page, methods=["GET"], name="feed.podcast_page"),
        Route("/feed/podcast/reset", podcast_reset, methods=["POST"], name="feed.podcast_reset"),
        Route(
            "/feed/podcast/artwork.jpg",
            podcast_artwork,
            methods=["GET"],
            name="feed.podcast_artwork",
        ),
        Route("/feed/{token:str}.rss", podcast_rss, methods=["GET"], name="feed.podcast_rss"),
    ]
