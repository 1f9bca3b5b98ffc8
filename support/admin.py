"""The console's customer service (Capability.CONVERSATIONS: support, admins, owners): the
queue (/admin/conversations: waiting, the longest first; answered; closed) with each
conversation's first-response time and the median of the last 30 days, and a conversation
(/admin/conversations/{id}: the thread, a reply with an optional picture, close, reopen).
The JSON API (support.api) is their twin over the same services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from errors import DomainError
from support import queue, schemas, services
from support.forms import read_message_form, typed
from support.models import ConversationStatus
from web.api import read_query
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.errors import form_refused
from web.forms import field_errors
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render


@staff_only(Capability.CONVERSATIONS)
async def queue_page(request: Request) -> Response:
    """A tab of the queue (`?status=`, waiting by default), the tabs' counts, and the median
    first-response time."""
    status = ConversationStatus(read_query(request, schemas.QueueQuery).status)
    now = datetime.now(UTC)
    return await render(
        request,
        "support/queue.html",
        {
            "status": status,
            "rows": await queue.queue(status, now=now),
            "counts": await queue.counts(),
            "first_responses": await queue.first_responses(now=now),
            "limit": queue.QUEUE,
            "now": now,
        },
    )


async def _thread_context(request: Request, conversation_id: int) -> dict[str, Any]:
    conversation = await services.conversation_for(staff_member(request), conversation_id)
    return {
        "conversation": conversation,
        "member": conversation.user,
        "messages": await services.thread(conversation),
        "first_response": queue.first_response(conversation),
        "linked_page": services.member_page,
        "max_body": services.MAX_BODY,
        "closed": conversation.status == ConversationStatus.CLOSED,
        "now": datetime.now(UTC),
        "errors": {},
        "values": {},
    }


@staff_only(Capability.CONVERSATIONS)
async def conversation_page(request: Request) -> Response:
    context = await _thread_context(request, request.path_params["id"])
    return await render(request, "support/admin_conversation.html", context)


@staff_only(Capability.CONVERSATIONS)
async def reply(request: Request) -> Response:
    conversation_id = request.path_params["id"]
    form = await read_form(request)
    try:
        message = await read_message_form(request, form)
        await services.write(
            staff_member(request),
            conversation_id,
            body=message.body,
            picture=message.picture,
            now=datetime.now(UTC),
            counter=request.app.state.counter,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        context = await _thread_context(request, conversation_id)
        context.update(values=typed(form), errors=field_errors(exc))
        return await form_refused(request, "support/admin_conversation.html", context, exc)
    flash(request, gettext_for(request)("The answer was sent."), "success")
    path = links.path("support.admin.conversation", id=conversation_id)
    return redirect_after_post(request, f"{path}#latest")


@staff_only(Capability.CONVERSATIONS)
async def close(request: Request) -> Response:
    await read_form(request)
    conversation_id = request.path_params["id"]
    on_error_back(request, links.path("support.admin.conversation", id=conversation_id))
    await services.close(staff_member(request), conversation_id, now=datetime.now(UTC))
    flash(request, gettext_for(request)("The conversation is closed."), "success")
    return redirect_after_post(request, links.path("support.admin.queue"))


@staff_only(Capability.CONVERSATIONS)
async def reopen(request: Request) -> Response:
    await read_form(request)
    conversation_id = request.path_params["id"]
    on_error_back(request, links.path("support.admin.conversation", id=conversation_id))
    await services.reopen(staff_member(request), conversation_id, now=datetime.now(UTC))
    flash(request, gettext_for(request)("The conversation is open again."), "success")
    return redirect_after_post(
        request, links.path("support.admin.conversation", id=conversation_id)
    )


def routes() -> list[BaseRoute]:
    one = "/admin/conversations/{id:id}"
    return [
        Route("/admin/conversations", queue_page, methods=["GET"], name="support.admin.queue"),
        Route(one, conversation_page, methods=["GET"], name="support.admin.conversation"),
        Route(f"{one}/messages", reply, methods=["POST"], name="support.admin.reply"),
        Route(f"{one}/close", close, methods=["POST"], name="support.admin.close"),
        Route(f"{one}/reopen", reopen, methods=["POST"], name="support.admin.reopen"),
    ]
