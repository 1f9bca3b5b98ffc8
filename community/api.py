"""The feed's JSON API: the feed, keyword lookup, search; admins write items (JSON or
multipart with an `audio` file) and read their analytics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from community import services
from community.audio import check_audio
from community.models import FeedItem
from community.routes import audio_dir
from errors import ValidationError
from web.api import Field, Schema, iso, json_response, operation, path_id, read_json
from web.auth import api_admin, optional_api_user

FEED_ITEM = Schema(
    {
        "title": Field("string", min_length=1, max_length=120),
        "body": Field("string", min_length=1, max_length=50_000, description="Markdown"),
        "keyword": Field("string", min_length=1, max_length=40),
        "members_only": Field("boolean", required=False),
        "publish_at": Field(
            "datetime", required=False, nullable=True, description="omitted: publish now"
        ),
    }
)
MAX_MULTIPART_FIELDS = 20


def item_json(item: services.ItemView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "keyword": item.keyword,
        "members_only": item.members_only,
        "publish_at": iso(item.publish_at),
        "audio_url": item.audio_url,
        "audio_seconds": item.audio_seconds,
    }
    if item.locked:
        data["teaser"] = item.teaser
    else:
        data["body"] = item.body
        data["body_html"] = item.body_html
    return data


def admin_item_json(item: FeedItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "keyword": item.keyword,
        "members_only": item.members_only,
        "publish_at": iso(item.publish_at),
        "audio_url": services.audio_url(item.audio_file),
        "audio_seconds": item.audio_seconds,
        "unpublished": item.unpublished,
        "views": item.views,
        "plays": item.plays,
        "lookups": item.lookups,
    }


async def _access(request: Request, now: datetime) -> bool:
    return services.full_access(await optional_api_user(request), now)


@operation(
    "Write a feed item (admins): JSON, or multipart/form-data with an `audio` file",
    body=FEED_ITEM,
    tag="feed",
    responses={201: "the item", 403: "forbidden", 409: "keyword_taken", 422: "a field"},
)
async def create_item(request: Request) -> Response:
    admin = await api_admin(request)
    audio = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_fields=MAX_MULTIPART_FIELDS) as form:
            raw: dict[str, Any] = {
                key: value for key, value in form.items() if isinstance(value, str)
            }
            if "members_only" in raw:
                flag = raw["members_only"].strip().lower()
                if flag not in ("true", "false", "1", "0", "on", ""):
                    raise ValidationError("members_only", "must be true or false")
                raw["members_only"] = flag in ("true", "1", "on")
            if not raw.get("publish_at", "x").strip():
                raw.pop("publish_at")
            upload = form.get("audio")
            if upload is not None and not isinstance(upload, UploadFile):
                raise ValidationError("audio", "must be a file")
            if isinstance(upload, UploadFile):
                audio = check_audio(await upload.read())
        data = FEED_ITEM.validate(raw)
    else:
        data = await read_json(request, FEED_ITEM)
    now = datetime.now(UTC)
    item = await services.create_item(
        title=data["title"],
        body=data["body"],
        keyword=data["keyword"],
        members_only=bool(data.get("members_only", False)),
        publish_at=data.get("publish_at"),
        author=admin,
        audio=audio,
        audio_dir=audio_dir(request),
        now=now,
    )
    return json_response(admin_item_json(item), 201)


@operation("Every feed item with its views, plays and lookups (admins)", tag="feed")
async def admin_list(request: Request) -> Response:
    await api_admin(request)
    await services.flush_analytics()
    return json_response({"items": [admin_item_json(i) for i in await services.admin_items()]})


@operation(
    "Unpublish a feed item (admins); it leaves the feed and frees its keyword",
    tag="feed",
    responses={200: "the item", 404: "item_not_found"},
)
async def unpublish(request: Request) -> Response:
    await api_admin(request)
    item = await services.set_published(path_id(request), False)
    return json_response(admin_item_json(item))


@operation(
    "Publish an unpublished feed item again (admins)",
    tag="feed",
    responses={200: "the item", 404: "item_not_found", 409: "keyword_taken"},
)
async def publish(request: Request) -> Response:
    await api_admin(request)
    item = await services.set_published(path_id(request), True)
    return json_response(admin_item_json(item))


@operation(
    "The feed, newest first; `cursor` continues from next_cursor. Members-only bodies only "
    "for members",
    auth=None,
    tag="feed",
    responses={200: "{items, next_cursor}", 400: "bad_cursor"},
)
async def feed(request: Request) -> Response:
    now = datetime.now(UTC)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 100:
        raise ValidationError("cursor", "is not a cursor this server gave out")
    page = await services.feed_page(now=now, full_access=await _access(request, now), cursor=cursor)
    return json_response(
        {"items": [item_json(item) for item in page.items], "next_cursor": page.next_cursor}
    )


@operation(
    "The live item with this keyword (case, full/half width, spaces and punctuation ignored)",
    auth=None,
    tag="feed",
    responses={200: "the item", 404: "unknown_keyword, with `hint`: the latest keyword"},
)
async def lookup(request: Request) -> Response:
    now = datetime.now(UTC)
    keyword = request.query_params.get("keyword", "")
    if len(keyword) > 100:
        raise ValidationError("keyword", "must be at most 100 characters")
    item = await services.lookup(keyword, now=now, full_access=await _access(request, now))
    return json_response(item_json(item))


@operation(
    "Search feed items (Chinese-aware: words are cut by jieba)",
    auth=None,
    tag="feed",
    responses={200: "{items}"},
)
async def search(request: Request) -> Response:
    now = datetime.now(UTC)
    query = request.query_params.get("q", "")
    if len(query) > 100:
        raise ValidationError("q", "must be at most 100 characters")
    items = await services.search_items(query, now=now, full_access=await _access(request, now))
    return json_response({"items": [item_json(item) for item in items]})


routes = [
    Route("/admin/feed-items", create_item, methods=["POST"]),
    Route("/admin/feed-items", admin_list, methods=["GET"]),
    Route("/admin/feed-items/{id}/unpublish", unpublish, methods=["POST"]),
    Route("/admin/feed-items/{id}/publish", publish, methods=["POST"]),
    Route("/feed", feed, methods=["GET"]),
    Route("/feed/lookup", lookup, methods=["GET"]),
    Route("/feed/search", search, methods=["GET"]),
]
