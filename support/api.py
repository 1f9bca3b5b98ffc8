"""Customer service's JSON API: a member's conversations (signed in with a bearer token), the
messages in one (its member, or staff who answer), and the staff's queue
(Capability.CONVERSATIONS). The pages (support.routes, support.admin) are its twins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.models import User
from accounts.roles import Capability
from support import queue, schemas, services
from support.models import Conversation, ConversationStatus, Message
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import api_user, staff_only


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "user_id": conversation.user_id,  # type: ignore[attr-defined]
        "status": conversation.status.value,
        "waiting_since": iso(conversation.waiting_since),
        "first_message_at": iso(conversation.first_message_at),
        "first_response_at": iso(conversation.first_response_at),
        "last_message_at": iso(conversation.last_message_at),
    }


def message_json(message: Message, reader: User) -> dict[str, Any]:
    picture = None
    if message.picture is not None:
        picture = {
            "url": links.path("support.picture", id=message.id),
            "thumbnail_url": links.path("support.thumbnail", id=message.id),
            "width": message.picture_width or 0,
            "height": message.picture_height or 0,
        }
    shown = not message.from_staff or services.may_answer(reader)
    return {
        "id": message.id,
        "from_staff": message.from_staff,
        "author_id": message.author_id if shown else None,  # type: ignore[attr-defined]
        "body": message.body,
        "page": message.page,
        "picture": picture,
        "created_at": iso(message.created_at),
    }


@operation(
    "Write to customer service: a new conversation with its first message, waiting in the "
    "staff's queue. A blocked watched word refuses it (422 blocked_words, with `words`); a "
    "censored one is kept as ■",
    body=schemas.NewConversation,
    answer=schemas.ConversationCreated,
    status=201,
    tag="support",
    errors={422: "blocked_words", 429: "rate_limited"},
)
async def start_conversation(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NewConversation)
    conversation = await services.start(
        user,
        body=data.body,
        page=data.page,
        now=datetime.now(UTC),
        counter=request.app.state.counter,
    )
    return json_response({"id": conversation.id}, 201)


@operation(
    "The caller's conversations with customer service, the latest message first",
    answer=schemas.Conversations,
    tag="support",
)
async def my_conversations(request: Request) -> Response:
    user = await api_user(request)
    mine = await services.member_conversations(user)
    return json_response({"items": [conversation_json(c) for c in mine]})


@operation(
    "A conversation and its messages, oldest first (its member, or staff who answer)",
    answer=schemas.ConversationThread,
    tag="support",
    errors={404: "conversation_not_found"},
)
async def get_conversation(request: Request) -> Response:
    user = await api_user(request)
    conversation = await services.conversation_for(user, request.path_params["id"])
    messages = await services.thread(conversation)
    return json_response(
        {
            **conversation_json(conversation),
            "messages": [message_json(m, user) for m in messages],
        }
    )


@operation(
    "Write in a conversation: its member's message waits in the queue again; a staff "
    "member's answers it and tells the member (inbox, and mail if they chose it). The "
    "member's is checked against the watched words (422 blocked_words; censored words kept "
    "as ■); a staff member's is not",
    body=schemas.NewConversationMessage,
    answer=schemas.ConversationMessageWritten,
    status=201,
    tag="support",
    errors={404: "conversation_not_found", 422: "blocked_words", 429: "rate_limited"},
)
async def write_message(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NewConversationMessage)
    message = await services.write(
        user,
        request.path_params["id"],
        body=data.body,
        now=datetime.now(UTC),
        counter=request.app.state.counter,
    )
    return json_response({"id": message.id}, 201)


@operation(
    "Close a conversation (its member, or staff who answer): out of the queue; a new "
    "message opens it again",
    answer=schemas.ConversationSummary,
    tag="support",
    errors={404: "conversation_not_found"},
)
async def close_conversation(request: Request) -> Response:
    user = await api_user(request)
    conversation = await services.close(user, request.path_params["id"], now=datetime.now(UTC))
    return json_response(conversation_json(conversation))


def queued_json(row: queue.QueueRow) -> dict[str, Any]:
    last = row.last_message
    return {
        **{
            key: value
            for key, value in conversation_json(row.conversation).items()
            if key not in ("first_response_at", "last_message_at")
        },
        "member_name": row.member.display_name,
        "first_response_seconds": (
            int(row.first_response.total_seconds()) if row.first_response is not None else None
        ),
        "last_message": None
        if last is None
        else {
            "id": last.id,
            "from_staff": last.from_staff,
            "body": last.body,
            "has_picture": last.picture is not None,
            "created_at": iso(last.created_at),
        },
    }


@operation(
    "The queue: conversations waiting for an answer, the longest waiting first (or the "
    "answered or closed ones, the latest first), and the median first-response time of "
    "the last 30 days (staff who answer)",
    query=schemas.QueueQuery,
    answer=schemas.ConversationQueue,
    tag="support",
)
@staff_only(Capability.CONVERSATIONS)
async def list_queue(request: Request) -> Response:
    status = ConversationStatus(read_query(request, schemas.QueueQuery).status)
    now = datetime.now(UTC)
    rows = await queue.queue(status, now=now)
    median = (await queue.first_responses(now=now)).median
    return json_response(
        {
            "items": [queued_json(row) for row in rows],
            "median_first_response_seconds": int(median.total_seconds()) if median else None,
        }
    )


def routes() -> list[BaseRoute]:
    one = "/conversations/{id:id}"
    return [
        Route("/conversations", start_conversation, methods=["POST"], name="support.start"),
        Route("/conversations", my_conversations, methods=["GET"], name="support.conversations"),
        Route(one, get_conversation, methods=["GET"], name="support.conversation"),
        Route(f"{one}/messages", write_message, methods=["POST"], name="support.write"),
        Route(f"{one}/close", close_conversation, methods=["POST"], name="support.close"),
        Route("/admin/conversations", list_queue, methods=["GET"], name="support.queue"),
    ]
