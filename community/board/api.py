"""The board's JSON API: posts, replies, likes, reports; moderators moderate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from community.board import moderation, real_name, replies, schemas
from community.board import services as board
from community.board.models import Post, Reply
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import api_user, client_address, staff_member, staff_only


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
        "pending_review": post.pending_review,
        "ip_region": post.ip_region,
    }


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "body_html": reply.body_html,
        "author": author_json(reply),
        "created_at": iso(reply.created_at),
        "pending_review": reply.pending_review,
        "ip_region": reply.ip_region,
    }


HELD = "held by a watched word for a moderator's review (its author is told the decision)"


def pending(object_id: int) -> Response:
    """202: kept, and waiting for a moderator (moderation.review)."""
    return json_response({"id": object_id, "status": "pending_review"}, 202)


def _token(request: Request) -> str | None:
    key = request.headers.get("idempotency-key", "").strip()
    return key[:200] or None


def _mobile_required(request: Request) -> bool:
    """The real-name rule is on (SHUYUAN_REQUIRE_VERIFIED_MOBILE: community.board.real_name)."""
    return bool(request.app.state.settings.require_verified_mobile)


@operation(
    "Write a post (active members); an Idempotency-Key header or the same text again within "
    "the same submission returns the first post",
    body=schemas.NewPost,
    answer=schemas.Post,
    status=201,
    also={202: (HELD, schemas.PendingReview)},
    tag="board",
    errors={
        403: "members_only, banned, mobile_required",
        422: "blocked_words",
        429: "rate_limited",
    },
)
async def create_post(request: Request) -> Response:
    user = await api_user(request)
    now = datetime.now(UTC)
    # A refusal (403) before a bad body (422).
    await real_name.check_can_publish(user, now, mobile_required=_mobile_required(request))
    data = await read_json(request, schemas.NewPost)
    post, _ = await board.create_post(
        author=user,
        category=data.category,
        title=data.title,
        body=data.body,
        counter=request.app.state.counter,
        now=now,
        token=_token(request),
        address=client_address(request),
        mobile_required=_mobile_required(request),
    )
    if post.pending_review:
        return pending(post.id)
    await post.fetch_related("author")
    return json_response(post_json(post), 201)


@operation(
    "Posts: newest (pinned first) or `sort=active`, by `category`, or matching `q`",
    query=schemas.PostsQuery,
    answer=schemas.Posts,
    tag="board",
    errors={403: "members_only"},
)
async def list_posts(request: Request) -> Response:
    user = await api_user(request)
    query = read_query(request, schemas.PostsQuery)
    listing = board.active_posts if query.sort == "active" else board.newest_posts
    page = await listing(
        viewer=user,
        now=datetime.now(UTC),
        category=query.category or None,
        query=query.q or None,
        cursor=query.cursor or None,
    )
    return json_response(
        {"items": [post_json(p) for p in page.posts], "next_cursor": page.next_cursor}
    )


@operation(
    "A post and its replies",
    answer=schemas.PostWithReplies,
    tag="board",
    errors={403: "members_only", 404: "post_not_found"},
)
async def get_post(request: Request) -> Response:
    user = await api_user(request)
    post = await board.get_post(request.path_params["id"], viewer=user, now=datetime.now(UTC))
    data = post_json(post)
    data["body"] = post.body
    data["replies"] = [reply_json(r) for r in await replies.thread(post, viewer=user)]
    return json_response(data)


@operation(
    "Edit one's own post; the text before is kept",
    body=schemas.PostEdit,
    answer=schemas.Post,
    also={202: (HELD, schemas.PendingReview)},
    tag="board",
    errors={
        403: "members_only, banned, not_the_author, mobile_required",
        404: "post_not_found",
        422: "blocked_words",
    },
)
async def edit_post(request: Request) -> Response:
    user = await api_user(request)
    now = datetime.now(UTC)
    # A refusal (403, or 404 for no such post) before a bad body (422).
    mobile_required = _mobile_required(request)
    await board.check_can_edit(
        request.path_params["id"], editor=user, now=now, mobile_required=mobile_required
    )
    data = await read_json(request, schemas.PostEdit)
    post = await board.edit_post(
        request.path_params["id"],
        editor=user,
        title=data.title,
        body=data.body,
        category=data.category,
        now=now,
        mobile_required=mobile_required,
    )
    if post.pending_review:
        return pending(post.id)
    return json_response(post_json(post))


@operation(
    "Delete one's own post",
    status=204,
    tag="board",
    errors={403: "members_only, not_the_author", 404: "post_not_found"},
)
async def delete_post(request: Request) -> Response:
    user = await api_user(request)
    await board.delete_post(request.path_params["id"], user=user, now=datetime.now(UTC))
    return Response(status_code=204)


@operation(
    "Reply to a post (active members)",
    body=schemas.NewReply,
    answer=schemas.Reply,
    status=201,
    also={202: (HELD, schemas.PendingReview)},
    tag="board",
    errors={
        403: "members_only, banned, mobile_required",
        404: "post_not_found",
        422: "blocked_words",
        423: "locked",
        429: "rate_limited",
    },
)
async def create_reply(request: Request) -> Response:
    user = await api_user(request)
    now = datetime.now(UTC)
    # A refusal (403) before a bad body (422).
    await real_name.check_can_publish(user, now, mobile_required=_mobile_required(request))
    data = await read_json(request, schemas.NewReply)
    created, _ = await replies.reply(
        request.path_params["id"],
        author=user,
        body=data.body,
        counter=request.app.state.counter,
        now=now,
        token=_token(request),
        address=client_address(request),
        mobile_required=_mobile_required(request),
    )
    if created.pending_review:
        return pending(created.id)
    await created.fetch_related("author")
    return json_response(reply_json(created), 201)


@operation(
    "Like a post (or `liked: false` to unlike)",
    body=schemas.Like,
    answer=schemas.Liked,
    tag="board",
    errors={403: "members_only, banned", 404: "post_not_found"},
)
async def like_post(request: Request) -> Response:
    user = await api_user(request)
    now = datetime.now(UTC)
    await board.check_can_write(user, now)  # a refusal (403) before a bad body (422)
    data = await read_json(request, schemas.Like)
    post = await board.like(request.path_params["id"], user=user, now=now, liked=data.liked)
    return json_response({"id": post.id, "like_count": post.like_count})


@operation(
    "Report a post to the moderators",
    body=schemas.NewReport,
    answer=schemas.Reported,
    status=201,
    tag="board",
    errors={403: "members_only, banned", 404: "post_not_found"},
)
async def report_post(request: Request) -> Response:
    user = await api_user(request)
    now = datetime.now(UTC)
    await board.check_can_write(user, now)  # a refusal (403) before a bad body (422)
    data = await read_json(request, schemas.NewReport)
    report = await moderation.report(
        request.path_params["id"],
        reporter=user,
        reason=data.reason,
        now=now,
        counter=request.app.state.counter,
    )
    return json_response({"id": report.id}, 201)


def _moderation(action: str):  # type: ignore[no-untyped-def]
    @operation(
        f"{action.capitalize()} a post (moderators)",
        answer=schemas.Post,
        auth="admin",
        tag="board",
        errors={404: "post_not_found"},
    )
    @staff_only(Capability.MODERATE)
    async def endpoint(request: Request) -> Response:
        post = await moderation.moderate(
            request.path_params["id"],
            action,
            actor=staff_member(request),
            now=datetime.now(UTC),
        )
        await post.fetch_related("author")
        return json_response(post_json(post))

    endpoint.__name__ = f"{action}_post"
    return endpoint


@operation(
    "Ban a member from posting for `days` days (moderators); 0 lifts it. Staff cannot be "
    "banned (409 cannot_ban_admin)",
    body=schemas.Ban,
    answer=schemas.Banned,
    auth="admin",
    tag="board",
    errors={404: "user_not_found", 409: "cannot_ban_admin"},
)
@staff_only(Capability.MODERATE)
async def ban_member(request: Request) -> Response:
    data = await read_json(request, schemas.Ban)
    ban = await moderation.ban(
        data.user_id,
        days=data.days,
        reason=data.reason,
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    return json_response({"user_id": data.user_id, "until": iso(ban.until)})


@operation(
    "Open reports, oldest first (moderators)", answer=schemas.Reports, auth="admin", tag="board"
)
@staff_only(Capability.MODERATE)
async def reports(request: Request) -> Response:
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
                for r in await moderation.open_reports()
            ]
        }
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/board/posts", create_post, methods=["POST"], name="board.create_post"),
        Route("/board/posts", list_posts, methods=["GET"], name="board.list_posts"),
        Route("/board/posts/{id:id}", get_post, methods=["GET"], name="board.get_post"),
        Route("/board/posts/{id:id}", edit_post, methods=["PATCH"], name="board.edit_post"),
        Route("/board/posts/{id:id}", delete_post, methods=["DELETE"], name="board.delete_post"),
        Route(
            "/board/posts/{id:id}/replies",
            create_reply,
            methods=["POST"],
            name="board.create_reply",
        ),
        Route("/board/posts/{id:id}/like", like_post, methods=["POST"], name="board.like_post"),
        Route(
            "/board/posts/{id:id}/reports", report_post, methods=["POST"], name="board.report_post"
        ),
        *[
            Route(
                f"/admin/board/posts/{{id:id}}/{action}",
                _moderation(action),
                methods=["POST"],
                name=f"board.{action}_post",
            )
            for action in ("hide", "unhide", "lock", "unlock", "pin", "unpin")
        ],
        Route("/admin/board/bans", ban_member, methods=["POST"], name="board.ban_member"),
        Route("/admin/board/reports", reports, methods=["GET"], name="board.reports"),
    ]
