"""The member's pages of customer service (联系我们): a new conversation (/contact, from the
"Contact us" link on every page, which says the page it was on), a conversation (the thread,
a reply, close), and a conversation's pictures, to its member and the staff only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from errors import DomainError
from storage import STORAGE
from support import services
from support.attachments import Size
from support.errors import PictureNotFound
from support.forms import read_message_form, shelf, typed
from support.models import ConversationStatus
from web.auth import current_user, optional_api_user, require_user
from web.csrf import read_form
from web.errors import form_errors, form_refused
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render
from web.stored import stored_response


async def _contact_context(request: Request, **extra: Any) -> dict[str, Any]:
    user = await require_user(request)
    mine = await services.member_conversations(user)
    return {
        "conversations": mine,
        "first_messages": await services.first_messages(mine),
        "max_body": services.MAX_BODY,
        "errors": {},
        "values": {},
        # "Also email me the answer", ticked on a new conversation: they are asking now.
        "email_me": True,
        **extra,
    }


async def contact_page(request: Request) -> Response:
    """The form of a new conversation, and the member's earlier ones. `?from=` is the page
    the "Contact us" link was on (kept when it is a local path, dropped otherwise)."""
    await require_user(request)
    page = services.page_from(request.query_params.get("from", "")) or ""
    context = await _contact_context(request, values={"page": page})
    return await render(request, "support/contact.html", context)


async def start(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    try:
        message = await read_message_form(request, form)
        conversation = await services.start(
            user,
            body=message.body,
            picture=message.picture,
            page=message.page,
            email_me=message.email_me,
            now=datetime.now(UTC),
            counter=request.app.state.counter,
        )
    except DomainError as exc:
        context = await _contact_context(
            request, values=typed(form), errors=form_errors(request, exc), email_me=_ticked(form)
        )
        return await form_refused(request, "support/contact.html", context, exc)
    _ = gettext_for(request)
    flash(request, _("Sent. We answer here, and tell you when we do."), "success")
    return redirect_after_post(request, links.path("support.conversation_page", id=conversation.id))


def _ticked(form: FormData) -> bool:
    """The box "also email me the answer" as sent, to show a refused form again."""
    return form.get("email_me") == "yes"


async def _conversation_context(request: Request, conversation_id: int) -> dict[str, Any]:
    user = await require_user(request)
    conversation = await services.conversation_for(user, conversation_id)
    return {
        "conversation": conversation,
        "messages": await services.thread(conversation),
        "max_body": services.MAX_BODY,
        "closed": conversation.status == ConversationStatus.CLOSED,
        "errors": {},
        "values": {},
        "email_me": await services.mails_answers(user),  # their choice as it stands
    }


async def conversation_page(request: Request) -> Response:
    """A conversation as its member reads it: the answers in it count as read."""
    user = await require_user(request)
    context = await _conversation_context(request, request.path_params["id"])
    await services.answers_read(user, context["conversation"].id, now=datetime.now(UTC))
    return await render(request, "support/conversation.html", context)


async def write(request: Request) -> Response:
    user = await require_user(request)
    conversation_id = request.path_params["id"]
    form = await read_form(request)
    try:
        message = await read_message_form(request, form)
        await services.write(
            user,
            conversation_id,
            body=message.body,
            picture=message.picture,
            email_me=message.email_me,
            now=datetime.now(UTC),
            counter=request.app.state.counter,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        context = await _conversation_context(request, conversation_id)
        context.update(values=typed(form), errors=form_errors(request, exc), email_me=_ticked(form))
        return await form_refused(request, "support/conversation.html", context, exc)
    path = links.path("support.conversation_page", id=conversation_id)
    return redirect_after_post(request, f"{path}#latest")


async def close(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    conversation_id = request.path_params["id"]
    on_error_back(request, links.path("support.conversation_page", id=conversation_id))
    await services.close(user, conversation_id, now=datetime.now(UTC))
    flash(request, gettext_for(request)("The conversation is closed."), "success")
    return redirect_after_post(request, links.path("support.conversation_page", id=conversation_id))


async def _picture(request: Request, size: Size) -> Response:
    """A conversation's picture, to its member and to staff who answer (signed in, or with
    an API token); to anyone else it does not exist. Never cached by anyone in between, and
    by the browser only to be asked again each time (no-cache, then 304 while its ETag holds):
    a staff member whose role was taken, or a shared device after signing out, keeps no
    picture to show from its cache."""
    reader = await current_user(request) or await optional_api_user(request)
    stem = await services.picture_of(reader, request.path_params["id"])
    storage = STORAGE.get()
    key = shelf(request).key(stem, size)
    if not await storage.exists(key):
        raise PictureNotFound()
    etag = f'"{stem}-{size}"'  # a picture's files never change: a new one has a new stem
    headers = {
        "Cache-Control": "private, no-cache",
        "ETag": etag,
        "Vary": "Cookie, Authorization",
    }
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return await stored_response(request, storage, key, media_type="image/jpeg", headers=headers)


async def picture(request: Request) -> Response:
    return await _picture(request, "large")


async def thumbnail(request: Request) -> Response:
    return await _picture(request, "small")


def routes() -> list[BaseRoute]:
    one = "/contact/{id:id}"
    return [
        Route("/contact", contact_page, methods=["GET"], name="support.contact_page"),
        Route("/contact", start, methods=["POST"], name="support.start"),
        Route(one, conversation_page, methods=["GET"], name="support.conversation_page"),
        Route(f"{one}/messages", write, methods=["POST"], name="support.write"),
        Route(f"{one}/close", close, methods=["POST"], name="support.close"),
        Route(
            "/contact/messages/{id:id}/picture.jpg",
            picture,
            methods=["GET"],
            name="support.picture",
        ),
        Route(
            "/contact/messages/{id:id}/thumbnail.jpg",
            thumbnail,
            methods=["GET"],
            name="support.thumbnail",
        ),
    ]
