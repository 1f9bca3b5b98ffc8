"""The feed's JSON API: the feed, keyword lookup, search; admins write items (JSON or
multipart with an `audio` file) and read their analytics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from community.feed import analytics, editing, schemas, services
from community.feed.audio import check_audio
from community.feed.models import FeedItem
from community.feed.schemas import item_json
from errors import ValidationError
from web.api import iso, json_response, operation, read_fields, read_json, read_query
from web.auth import optional_api_user, staff_member, staff_only
from web.limits import FORM_FIELDS


def admin_item_json(item: FeedItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "keyword": item.keyword,
        "members_only": item.members_only,
        "publish_at": iso(item.publish_at),
        "audio_url": services.audio_url(item.audio_file),
        "audio_seconds": item.audio_seconds,
        "teaser": item.teaser,
        "unpublished": item.unpublished,
        "views": item.views,
        "plays": item.plays,
        "lookups": item.lookups,
    }


async def _access(request: Request, now: datetime) -> bool:
    return services.full_access(await optional_api_user(request), now)


@operation(
    "Write a feed item (admins): JSON, or multipart/form-data with an `audio` file",
    body=schemas.NewFeedItem,
    answer=schemas.AdminFeedItem,
    status=201,
    auth="admin",
    tag="feed",
    errors={409: "keyword_taken"},
)
@staff_only(Capability.FEED)
async def create_item(request: Request) -> Response:
    admin = staff_member(request)
    audio = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_fields=FORM_FIELDS) as form:
            text = {key: value for key, value in form.items() if isinstance(value, str)}
            if not text.get("publish_at", "x").strip():
                text.pop("publish_at")
            upload = form.get("audio")
            if upload is not None and not isinstance(upload, UploadFile):
                raise ValidationError("audio", "must be a file")
            data = read_fields(text, schemas.NewFeedItem)
            if isinstance(upload, UploadFile):
                audio = check_audio(await upload.read())
    else:
        data = await read_json(request, schemas.NewFeedItem)
    now = datetime.now(UTC)
    item = await editing.create_item(
        title=data.title,
        body=data.body,
        keyword=data.keyword,
        members_only=data.members_only,
        teaser=data.teaser,
        publish_at=data.publish_at,
        author=admin,
        audio=audio,
        now=now,
        memory=request.app.state.memory.feed,
        actor=admin,
    )
    return json_response(admin_item_json(item), 201)


@operation(
    "Every feed item with its views, plays and lookups (admins)",
    answer=schemas.AdminFeedItems,
    auth="admin",
    tag="feed",
)
@staff_only(Capability.FEED)
async def admin_list(request: Request) -> Response:
    await analytics.flush_analytics(request.app.state.memory.feed)
    return json_response({"items": [admin_item_json(i) for i in await editing.admin_items()]})


@operation(
    "Unpublish a feed item (admins); it leaves the feed and frees its keyword",
    answer=schemas.AdminFeedItem,
    auth="admin",
    tag="feed",
    errors={404: "item_not_found"},
)
@staff_only(Capability.FEED)
async def unpublish(request: Request) -> Response:
    item = await editing.set_published(
        request.path_params["id"],
        False,
        memory=request.app.state.memory.feed,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response(admin_item_json(item))


@operation(
    "Publish an unpublished feed item again (admins)",
    answer=schemas.AdminFeedItem,
    auth="admin",
    tag="feed",
    errors={404: "item_not_found", 409: "keyword_taken"},
)
@staff_only(Capability.FEED)
async def publish(request: Request) -> Response:
    item = await editing.set_published(
        request.path_params["id"],
        True,
        memory=request.app.state.memory.feed,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response(admin_item_json(item))


@operation(
    "The feed, newest first; `cursor` continues from next_cursor. Members-only bodies only "
    "for members",
    query=schemas.FeedQuery,
    answer=schemas.FeedPage,
    auth="optional",
    tag="feed",
)
async def feed(request: Request) -> Response:
    now = datetime.now(UTC)
    cursor = read_query(request, schemas.FeedQuery).cursor
    reader = await optional_api_user(request)
    page = await services.feed_page(
        now=now,
        full_access=services.full_access(reader, now),
        cursor=cursor,
        memory=request.app.state.memory.feed,
    )
    analytics.count_feed_view(
        request.app.state.memory.feed,
        [item.id for item in page.items],
        first_page=not cursor,
        user_id=reader.id if reader else None,
    )
    return json_response(
        {"items": [item_json(item) for item in page.items], "next_cursor": page.next_cursor}
    )


@operation(
    "The live item with this keyword (case, full/half width, spaces and punctuation ignored)",
    query=schemas.LookupQuery,
    answer=schemas.FeedItem,
    auth="optional",
    tag="feed",
    errors={404: "unknown_keyword"},
)
async def lookup(request: Request) -> Response:
    now = datetime.now(UTC)
    reader = await optional_api_user(request)  # the consent gate answers before the query
    keyword = read_query(request, schemas.LookupQuery).keyword
    item = await services.lookup(
        keyword,
        now=now,
        full_access=services.full_access(reader, now),
        memory=request.app.state.memory.feed,
        user_id=reader.id if reader else None,
    )
    return json_response(item_json(item))


@operation(
    "Search feed items (Chinese-aware: words are cut by jieba)",
    query=schemas.SearchQuery,
    answer=schemas.FeedItems,
    auth="optional",
    tag="feed",
)
async def search(request: Request) -> Response:
    now = datetime.now(UTC)
    query = read_query(request, schemas.SearchQuery).q
    items = await services.search_items(query, now=now, full_access=await _access(request, now))
    return json_response({"items": [item_json(item) for item in items]})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/feed-items", create_item, methods=["POST"], name="feed.create_item"),
        Route("/admin/feed-items", admin_list, methods=["GET"], name="feed.admin_list"),
        Route(
            "/admin/feed-items/{id:id}/unpublish",
            unpublish,
            methods=["POST"],
            name="feed.unpublish",
        ),
        Route("/admin/feed-items/{id:id}/publish", publish, methods=["POST"], name="feed.publish"),
        Route("/feed", feed, methods=["GET"], name="feed.feed"),
        Route("/feed/lookup", lookup, methods=["GET"], name="feed.lookup"),
        Route("/feed/search", search, methods=["GET"], name="feed.search"),
    ]
