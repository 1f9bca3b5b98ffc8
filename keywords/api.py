"""The keyword box's JSON API: what a keyword answers (anyone), and admins' auto-replies and the
lookups that found nothing (Capability.FEED). The console's pages (keywords.admin) and the
keyword box's page (keywords.routes) are its twins over the same services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from community.feed.schemas import LookupQuery, item_json
from keywords import misses, rules, schemas, services, tasks
from keywords.checks import KeywordInput, ReplyInput
from keywords.matching import rule_book
from keywords.replies import (
    FeedItemReply,
    PostReply,
    ProductReply,
    Reply,
    TextReply,
    WindowReply,
)
from keywords.rules import RuleRecord
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import optional_api_user, staff_member, staff_only


def reply_json(reply: Reply) -> dict[str, Any]:
    """A reply as the API writes it (schemas.KeywordReply): links absolute."""
    if isinstance(reply, TextReply):
        return {"kind": "text", "text": reply.text}
    if isinstance(reply, ProductReply):
        return {
            "kind": "product",
            "id": reply.id,
            "title": reply.title,
            "price_fen": reply.price_fen,
            "url": links.join(reply.path),
            "picture_url": links.join(reply.picture),
            "sold_out": reply.sold_out,
            "members_only": reply.members_only,
            "sale": reply.state.value,
            "sale_opens_at": iso(reply.sale_opens_at),
        }
    if isinstance(reply, WindowReply):
        return {
            "kind": "window",
            "id": reply.id,
            "title": reply.title,
            "price_fen": reply.price_fen,
            "url": links.join(reply.path),
            "state": reply.state.value,
            "seats_left": reply.seats_left,
            "opens_at": iso(reply.opens_at),
            "closes_at": iso(reply.closes_at),
        }
    if isinstance(reply, PostReply):
        return {"kind": "post", "id": reply.id, "title": reply.title, "url": links.join(reply.path)}
    assert isinstance(reply, FeedItemReply)
    return {
        "kind": "feed_item",
        "id": reply.id,
        "title": reply.title,
        "teaser": reply.teaser,
        "url": links.join(reply.path),
        "members_only": reply.members_only,
        "locked": reply.locked,
    }


@operation(
    "What the keyword box answers a keyword: the feed's live item with it (the daily keyword "
    "wins), else an auto-reply's replies. Traditional/Simplified, case, width and spaces "
    "inside are ignored; a keyword nothing answers is counted for the admins",
    query=LookupQuery,
    answer=schemas.KeywordAnswer,
    auth="optional",
    tag="keywords",
    errors={404: "unknown_keyword"},
)
async def keyword_reply(request: Request) -> Response:
    reader = await optional_api_user(request)  # the consent gate answers before the query
    keyword = read_query(request, LookupQuery).keyword
    found = await services.answer(
        keyword,
        now=datetime.now(UTC),
        reader=reader,
        memories=services.Memories.of(request.app.state.memory),
    )
    if isinstance(found, services.FeedAnswer):
        return json_response({"kind": "feed_item", "item": item_json(found.item)})
    return json_response(
        {"kind": "auto_reply", "replies": [reply_json(reply) for reply in found.replies]}
    )


def rule_json(record: RuleRecord) -> dict[str, Any]:
    replies = []
    for reply in record.replies:
        shown: dict[str, Any] = {"kind": reply.kind.value}
        if reply.text is not None:
            shown["text"] = reply.text
        if reply.target_id is not None:
            shown["id"] = reply.target_id
        replies.append(shown)
    return {
        "id": record.id,
        "keywords": [{"text": k.text, "match": k.match.value} for k in record.keywords],
        "replies": replies,
        "mode": record.rule.mode.value,
        "hits": record.rule.hits,
        "created_at": iso(record.rule.created_at),
        "updated_at": iso(record.rule.updated_at),
    }


def _inputs(data: schemas.NewAutoReply) -> dict[str, Any]:
    return {
        "keywords": [KeywordInput(k.text, k.match) for k in data.keywords],
        "replies": [ReplyInput(r.kind, r.text, r.id) for r in data.replies],
        "mode": data.mode,
    }


@operation(
    "Every auto-reply, the newest first, with its keywords, replies and hits (admins)",
    answer=schemas.AutoReplies,
    tag="keywords",
)
@staff_only(Capability.FEED)
async def list_auto_replies(request: Request) -> Response:
    await tasks.flush_counts(request.app.state.memory.keywords)  # this worker's hits, at least
    return json_response({"items": [rule_json(r) for r in await rules.all_rules()]})


@operation(
    "Save an auto-reply: keywords (each matching the whole input or any part of it) and "
    "replies, all answered in order or one at random (admins)",
    body=schemas.NewAutoReply,
    answer=schemas.AutoReplyCreated,
    status=201,
    tag="keywords",
    errors={409: "keyword_taken"},
)
@staff_only(Capability.FEED)
async def create_auto_reply(request: Request) -> Response:
    data = await read_json(request, schemas.NewAutoReply)
    rule = await rules.create_rule(
        actor=staff_member(request),
        **_inputs(data),
        now=datetime.now(UTC),
        memory=request.app.state.memory.keywords,
    )
    return json_response({"id": rule.id}, 201)


@operation(
    "An auto-reply with its keywords, replies and hits (admins)",
    answer=schemas.AutoReply,
    tag="keywords",
    errors={404: "not_found"},
)
@staff_only(Capability.FEED)
async def get_auto_reply(request: Request) -> Response:
    return json_response(rule_json(await rules.get_rule(request.path_params["id"])))


@operation(
    "Replace an auto-reply's keywords, replies and mode (admins)",
    body=schemas.NewAutoReply,
    answer=schemas.AutoReply,
    tag="keywords",
    errors={404: "not_found", 409: "keyword_taken"},
)
@staff_only(Capability.FEED)
async def update_auto_reply(request: Request) -> Response:
    data = await read_json(request, schemas.NewAutoReply)
    rule_id = request.path_params["id"]
    await rules.update_rule(
        rule_id,
        actor=staff_member(request),
        **_inputs(data),
        now=datetime.now(UTC),
        memory=request.app.state.memory.keywords,
    )
    return json_response(rule_json(await rules.get_rule(rule_id)))


@operation("Delete an auto-reply (admins)", status=204, tag="keywords", errors={404: "not_found"})
@staff_only(Capability.FEED)
async def delete_auto_reply(request: Request) -> Response:
    await rules.delete_rule(
        request.path_params["id"],
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.keywords,
    )
    return Response(status_code=204)


@operation(
    "What members wanted: the keywords nothing answered in the last `days` Shanghai days, "
    "the most typed first, each marked when a rule or a live feed item answers it now (admins)",
    query=schemas.MissesQuery,
    answer=schemas.KeywordMisses,
    tag="keywords",
)
@staff_only(Capability.FEED)
async def list_keyword_misses(request: Request) -> Response:
    days = read_query(request, schemas.MissesQuery).days
    now = datetime.now(UTC)
    await tasks.flush_counts(request.app.state.memory.keywords)  # this worker's, at least
    found = await misses.missed(
        days=days, now=now, book=await rule_book(request.app.state.memory.keywords, now)
    )
    items = [
        {
            "keyword": miss.key,
            "sample": miss.sample,
            "count": miss.count,
            "last_at": iso(miss.last_at),
            "answered": miss.answered,
            "other": miss.other,
        }
        for miss in found
    ]
    return json_response({"days": days, "items": items})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    rule = "/admin/auto-replies/{id:id}"
    return [
        Route("/keyword-replies", keyword_reply, methods=["GET"], name="keywords.reply"),
        Route(
            "/admin/auto-replies", list_auto_replies, methods=["GET"], name="keywords.list_rules"
        ),
        Route(
            "/admin/auto-replies", create_auto_reply, methods=["POST"], name="keywords.create_rule"
        ),
        Route(rule, get_auto_reply, methods=["GET"], name="keywords.rule"),
        Route(rule, update_auto_reply, methods=["PUT"], name="keywords.update_rule"),
        Route(rule, delete_auto_reply, methods=["DELETE"], name="keywords.delete_rule"),
        Route(
            "/admin/keyword-misses",
            list_keyword_misses,
            methods=["GET"],
            name="keywords.list_misses",
        ),
    ]
