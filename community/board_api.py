"""The board's JSON API: posts, replies, likes, reports; admins moderate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from community import board
from community.models import Post, Reply
from errors import ValidationError
from web.api import Field, Schema, iso, json_response, operation, path_id, read_json
from web.auth import api_admin, api_user

POST = Schema(
    {
        "category": Field("string", min_length=1, max_length=30),
        "title": Field("string", min_length=1, max_length=board.TITLE_MAX),
        "body": Field("string", min_length=1, max_length=board.BODY_MAX, description="Markdown"),
    }
)
EDIT = Schema(
    {
        "title": Field("string", min_length=1, max_length=board.TITLE_MAX),
        "body": Field("string", min_length=1, max_length=board.BODY_MAX),
        "category": Field("string", required=False, max_length=30),
    }
)
REPLY = Schema({"body": Field("string", min_length=1, max_length=board.REPLY_MAX)})
REPORT = Schema({"reason": Field("string", min_length=1, max_length=board.REASON_MAX)})
BAN = Schema(
    {
        "user_id": Field("integer", minimum=1),
        "days": Field("integer", minimum=0, maximum=3650),
        "reason": Field("string", required=False, max_length=200),
    }
)
LIKE = Schema({"liked": Field("boolean", required=False)})


def author_json(post_or_reply: Post | Reply) -> dict[str, Any]:
    author = post_or_reply.author
    return {"id": author.id, "display_name": author.display_name}


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "category": post.category,
        "title": post.title,
        "body_html": post.body_html,
        "author": author_json(post),
        "created_at": iso(post.created_at),
        "edited_at": iso(post.edited_at),
        "reply_count": post.reply_count,
        "like_count": post.like_count,
        "pinned": post.pinned,
        "locked": post.locked,
        "hidden": post.hidden,
    }


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "body_html": reply.body_html,
        "author": author_json(reply),
        "created_at": iso(reply.created_at),
    }


def _token(request: Request) -> str | None:
    key = request.headers.get("idempotency-key", "").strip()
    return key[:200] or None


@operation(
    "Write a post (active members); an Idempotency-Key header or the same text again within "
    "the same submission returns the first post",
    body=POST,
    tag="board",
    responses={201: "the post", 403: "members_only or banned", 422: "a field", 429: "too fast"},
)
async def create_post(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, POST)
    post, _ = await board.create_post(
        author=user,
        category=data["category"],
        title=data["title"],
        body=data["body"],
        counter=request.app.state.counter,
        now=datetime.now(UTC),
        token=_token(request),
    )
    await post.fetch_related("author")
    return json_response(post_json(post), 201)


@operation(
    "Posts: newest (pinned first) or `sort=active`, by `category`, or matching `q`",
    tag="board",
    responses={200: "{items, next_cursor}", 403: "members_only"},
)
async def list_posts(request: Request) -> Response:
    user = await api_user(request)
    params = request.query_params
    sort = params.get("sort") or "new"
    if sort not in ("new", "active"):
        raise ValidationError("sort", "must be new or active")
    query = params.get("q") or None
    if query and len(query) > 100:
        raise ValidationError("q", "must be at most 100 characters")
    cursor = params.get("cursor") or None
    if cursor and len(cursor) > 100:
        raise ValidationError("cursor", "is not a cursor this server gave out")
    page = await board.list_posts(
        viewer=user,
        now=datetime.now(UTC),
        sort=sort,
        category=params.get("category") or None,
        query=query,
        cursor=cursor,
    )
    return json_response(
        {"items": [post_json(p) for p in page.posts], "next_cursor": page.next_cursor}
    )


@operation("A post and its replies", tag="board", responses={200: "the post", 404: "not found"})
async def get_post(request: Request) -> Response:
    user = await api_user(request)
    post = await board.get_post(path_id(request), viewer=user, now=datetime.now(UTC))
    data = post_json(post)
    data["body"] = post.body
    data["replies"] = [reply_json(r) for r in await board.replies(post, viewer=user)]
    return json_response(data)


@operation("Edit one's own post; the text before is kept", body=EDIT, tag="board")
async def edit_post(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, EDIT)
    post = await board.edit_post(
        path_id(request),
        editor=user,
        title=data["title"],
        body=data["body"],
        category=data.get("category"),
        now=datetime.now(UTC),
    )
    return json_response(post_json(post))


@operation("Delete one's own post", tag="board", responses={204: "deleted"})
async def delete_post(request: Request) -> Response:
    user = await api_user(request)
    await board.delete_post(path_id(request), user=user, now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "Reply to a post (active members)",
    body=REPLY,
    tag="board",
    responses={201: "the reply", 403: "members_only or banned", 423: "locked"},
)
async def create_reply(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, REPLY)
    created, _ = await board.reply(
        path_id(request),
        author=user,
        body=data["body"],
        counter=request.app.state.counter,
        now=datetime.now(UTC),
        token=_token(request),
    )
    await created.fetch_related("author")
    return json_response(reply_json(created), 201)


@operation("Like a post (or `liked: false` to unlike)", body=LIKE, tag="board")
async def like_post(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, LIKE)
    post = await board.like(
        path_id(request), user=user, now=datetime.now(UTC), liked=data.get("liked", True)
    )
    return json_response({"id": post.id, "like_count": post.like_count})


@operation("Report a post to the admins", body=REPORT, tag="board", responses={201: "reported"})
async def report_post(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, REPORT)
    report = await board.report(
        path_id(request), reporter=user, reason=data["reason"], now=datetime.now(UTC)
    )
    return json_response({"id": report.id}, 201)


def _moderation(action: str):  # type: ignore[no-untyped-def]
    @operation(f"{action.capitalize()} a post (admins)", tag="board", responses={200: "the post"})
    async def endpoint(request: Request) -> Response:
        await api_admin(request)
        post = await board.moderate(path_id(request), action)
        await post.fetch_related("author")
        return json_response(post_json(post))

    endpoint.__name__ = f"{action}_post"
    return endpoint


@operation("Ban a member from posting for `days` days (admins); 0 lifts it", body=BAN, tag="board")
async def ban_member(request: Request) -> Response:
    await api_admin(request)
    data = await read_json(request, BAN)
    ban = await board.ban(
        data["user_id"], days=data["days"], reason=data.get("reason", ""), now=datetime.now(UTC)
    )
    return json_response({"user_id": data["user_id"], "until": iso(ban.until)})


@operation("Open reports, oldest first (admins)", tag="board")
async def reports(request: Request) -> Response:
    await api_admin(request)
    return json_response(
        {
            "items": [
                {
                    "id": r.id,
                    "post_id": r.post.id,
                    "post_title": r.post.title,
                    "reporter_id": r.reporter.id,
                    "reason": r.reason,
                    "created_at": iso(r.created_at),
                }
                for r in await board.open_reports()
            ]
        }
    )


routes = [
    Route("/board/posts", create_post, methods=["POST"]),
    Route("/board/posts", list_posts, methods=["GET"]),
    Route("/board/posts/{id}", get_post, methods=["GET"]),
    Route("/board/posts/{id}", edit_post, methods=["PATCH"]),
    Route("/board/posts/{id}", delete_post, methods=["DELETE"]),
    Route("/board/posts/{id}/replies", create_reply, methods=["POST"]),
    Route("/board/posts/{id}/like", like_post, methods=["POST"]),
    Route("/board/posts/{id}/reports", report_post, methods=["POST"]),
    *[
        Route(f"/admin/board/posts/{{id}}/{action}", _moderation(action), methods=["POST"])
        for action in ("hide", "unhide", "lock", "unlock", "pin", "unpin")
    ],
    Route("/admin/board/bans", ban_member, methods=["POST"]),
    Route("/admin/board/reports", reports, methods=["GET"]),
]
