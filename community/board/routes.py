"""The board's pages: lists, a post with its thread, writing, replying and liking with htmx
(each form also works as a plain post without JavaScript), editing, reports; the console's
board section (/admin/board: reports, hidden posts, bans by picking a person, categories)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import staff
from accounts.models import User
from accounts.roles import Capability
from community.board import moderation, real_name, replies, schemas
from community.board import services as board
from errors import ValidationError
from moderation.errors import BlockedWords
from web.auth import client_address, require_user, staff_member, staff_only
from web.csrf import read_form
from web.decoding import read_fields, read_query
from web.errors import in_reader_language
from web.forms import field_errors
from web.rendering import (
    flash,
    gettext_for,
    is_htmx,
    on_error_back,
    redirect_after_post,
    render,
)


def _post_id(request: Request) -> int:
    return int(request.path_params["id"])


def _mobile_required(request: Request) -> bool:
    """The real-name rule is on (SHUYUAN_REQUIRE_VERIFIED_MOBILE: community.board.real_name)."""
    return bool(request.app.state.settings.require_verified_mobile)


async def _lacks_mobile(request: Request, user: User) -> bool:
    """Whether the page shows where to link a mobile number in place of its form."""
    return await real_name.lacks_mobile(user, mobile_required=_mobile_required(request))


async def board_page(request: Request) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    params = read_query(request, schemas.PostsQuery)
    sort = params.sort
    category = params.category or None
    query = params.q or ""
    listing = board.active_posts if sort == "active" else board.newest_posts
    page = await listing(
        viewer=user,
        now=now,
        category=category,
        query=query or None,
        cursor=params.cursor or None,
    )
    context = {
        "page": page,
        "sort": sort,
        "category": category or "",
        "q": query,
        "categories": await board.categories(),
        "can_write": await board.may_write(user, now),
    }
    return await render(request, "community/board.html", context, fragment="community/_posts.html")


async def new_post_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    await board.check_can_read(user, now)
    return await render(
        request,
        "community/board_new.html",
        {
            "categories": await board.categories(),
            "errors": errors or {},
            "values": values or {"category": "knowledge", "title": "", "body": ""},
            "submission": secrets.token_urlsafe(16),
            "can_write": await board.may_write(user, now),
            "lacks_mobile": await _lacks_mobile(request, user),
        },
        status_code=422 if errors else 200,
    )


async def create_post(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    now = datetime.now(UTC)
    # A refusal before the text's problems, as the API.
    await real_name.check_can_publish(user, now, mobile_required=_mobile_required(request))
    values = {key: str(form.get(key, "")) for key in ("category", "title", "body", "submission")}
    try:
        data = read_fields(values, schemas.NewPost)  # every problem of the form at once
        post, _ = await board.create_post(
            author=user,
            category=data.category,
            title=data.title,
            body=data.body,
            counter=request.app.state.counter,
            now=now,
            token=values["submission"] or None,
            address=client_address(request),
            mobile_required=_mobile_required(request),
        )
    except ValidationError as exc:
        return await new_post_page(request, field_errors(exc), values)
    return redirect_after_post(request, links.path("board.post_page", id=post.id))


async def post_page(request: Request) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    post = await board.get_post(_post_id(request), viewer=user, now=now)
    return await render(
        request,
        "community/board_post.html",
        {
            "post": post,
            "replies": await replies.thread(post, viewer=user),
            "liked": await board.has_liked(post, user),
            "can_write": await board.may_write(user, now),
            "lacks_mobile": await _lacks_mobile(request, user),
            "revisions": await board.revisions(post),
            "submission": secrets.token_urlsafe(16),
            "categories": await board.categories(),
        },
    )


async def create_reply(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    now = datetime.now(UTC)
    # A refusal before the text's problems, as the API.
    await real_name.check_can_publish(user, now, mobile_required=_mobile_required(request))
    body = str(form.get("body", ""))
    try:
        # The API's declared reply (schemas.NewReply): the same limits on both.
        data = read_fields({"body": body}, schemas.NewReply)
        created, _ = await replies.reply(
            _post_id(request),
            author=user,
            body=data.body,
            counter=request.app.state.counter,
            now=now,
            token=str(form.get("submission", "")) or None,
            address=client_address(request),
            mobile_required=_mobile_required(request),
        )
    except (ValidationError, BlockedWords) as exc:
        if not is_htmx(request):
            raise  # a plain form: back to the post with the reason (web.errors)
        # The form alone, in place of itself, with the reason beside the text and the text kept.
        response = await render(
            request,
            "community/_reply_form.html",
            {
                "post": {"id": _post_id(request)},
                "submission": str(form.get("submission", "")) or secrets.token_urlsafe(16),
                "reply_errors": (
                    field_errors(exc)
                    if isinstance(exc, ValidationError)
                    else {"body": in_reader_language(request, exc)}
                ),
                "reply_body": body,
            },
            status_code=exc.status,
        )
        response.headers["HX-Retarget"] = "#reply-form"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    if is_htmx(request):
        await created.fetch_related("author")
        return await render(
            request,
            "community/_reply.html",
            {"reply": created, "submission": secrets.token_urlsafe(16)},
        )
    return redirect_after_post(
        request, links.path("board.post_page", id=_post_id(request)) + f"#reply-{created.id}"
    )


async def like_post(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    post = await board.like(
        _post_id(request), user=user, now=datetime.now(UTC), liked=form.get("liked") != "0"
    )
    if is_htmx(request):
        return await render(
            request,
            "community/_like.html",
            {"post": post, "liked": form.get("liked") != "0", "can_write": True},
        )
    return redirect_after_post(request, links.path("board.post_page", id=post.id))


async def edit_page(request: Request, errors: dict[str, str] | None = None) -> Response:
    user = await require_user(request)
    post = await board.check_can_edit(_post_id(request), editor=user, now=datetime.now(UTC))
    return await render(
        request,
        "community/board_edit.html",
        {"post": post, "errors": errors or {}},
        status_code=422 if errors else 200,
        fragment="community/_edit_form.html",
    )


async def edit_post(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    now = datetime.now(UTC)
    mobile_required = _mobile_required(request)
    await board.check_can_edit(  # before the text
        _post_id(request), editor=user, now=now, mobile_required=mobile_required
    )
    try:
        # The API's declared edit (schemas.PostEdit): the same limits on both.
        data = read_fields(
            {key: str(form.get(key, "")) for key in ("title", "body")}, schemas.PostEdit
        )
        post = await board.edit_post(
            _post_id(request),
            editor=user,
            title=data.title,
            body=data.body,
            category=None,
            now=now,
            mobile_required=mobile_required,
        )
    except ValidationError as exc:
        return await edit_page(request, {exc.field: exc.reason})
    flash(
        request, gettext_for(request)("Saved; the earlier text is kept in the history."), "success"
    )
    return redirect_after_post(request, links.path("board.post_page", id=post.id))


async def delete_post(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    await board.delete_post(_post_id(request), user=user, now=datetime.now(UTC))
    flash(request, gettext_for(request)("The post was deleted."), "success")
    return redirect_after_post(request, links.path("board.board_page"))


async def report_post(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    on_error_back(request, links.path("board.post_page", id=_post_id(request)))
    now = datetime.now(UTC)
    await board.check_can_write(user, now)  # a refusal before the reason's problems, as the API
    data = read_fields({"reason": str(form.get("reason", ""))}, schemas.NewReport)
    await moderation.report(
        _post_id(request),
        reporter=user,
        reason=data.reason,
        now=now,
        counter=request.app.state.counter,
    )
    flash(request, gettext_for(request)("Thank you: the moderators will look at it."), "success")
    return redirect_after_post(request, links.path("board.post_page", id=_post_id(request)))


@staff_only(Capability.MODERATE)
async def admin_page(request: Request) -> Response:
    """Reports, hidden posts, bans (find a person with `?q=`: an email, a name or a number),
    the board's settings and categories."""
    now = datetime.now(UTC)
    looked_for = (read_query(request, schemas.PersonQuery).q or "").strip()
    found, _more = await staff.find_people(looked_for)
    return await render(
        request,
        "community/board_admin.html",
        {
            "reports": await moderation.open_reports(),
            "hidden_posts": await moderation.hidden_posts(),
            "q": looked_for,
            "found": found,
            "found_bans": await moderation.bans_of([person.id for person in found], now),
            "bans": await moderation.current_bans(now),
            "members_only_read": await board.members_only_read(),
            "categories": await board.categories(),
        },
    )


def _back_to_admin_page(q: str) -> str:
    """The console's board page, with the person search the form was sent from."""
    q = q.strip()[:100]
    return links.path("board.admin_page", _query={"q": q} if q else {})


@staff_only(Capability.MODERATE)
async def admin_moderate(request: Request) -> Response:
    await read_form(request)
    post = await moderation.moderate(
        _post_id(request),
        request.path_params["action"],
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Done."), "success")
    # Back where the moderator acted: the console's board page, or the post itself.
    admin_page = links.path("board.admin_page")
    from_admin = urlsplit(request.headers.get("referer", "")).path == admin_page
    return redirect_after_post(
        request, admin_page if from_admin else links.path("board.post_page", id=post.id)
    )


@staff_only(Capability.MODERATE)
async def admin_ban(request: Request) -> Response:
    form = await read_form(request)
    back = _back_to_admin_page(str(form.get("q", "")))
    on_error_back(request, back)
    fields = {key: str(form.get(key, "")) for key in ("user_id", "days", "reason")}
    data = read_fields(fields, schemas.Ban)  # the API's declared ban: the same limits
    await moderation.ban(
        data.user_id,
        days=data.days,
        reason=data.reason,
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    _ = gettext_for(request)
    flash(request, _("The ban was lifted.") if data.days == 0 else _("Banned."), "success")
    return redirect_after_post(request, back)


@staff_only(Capability.MODERATE)
async def admin_settings(request: Request) -> Response:
    form = await read_form(request)
    await board.set_members_only_read(
        form.get("members_only_read") == "on", actor=staff_member(request), now=datetime.now(UTC)
    )
    flash(request, gettext_for(request)("Done."), "success")
    return redirect_after_post(request, links.path("board.admin_page"))


@staff_only(Capability.MODERATE)
async def admin_category(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("board.admin_page"))
    await board.add_category(
        str(form.get("slug", "")),
        str(form.get("name", "")),
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Done."), "success")
    return redirect_after_post(request, links.path("board.admin_page"))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/board", board_page, methods=["GET"], name="board.board_page"),
        Route("/board/new", new_post_page, methods=["GET"], name="board.new_post_page"),
        Route("/board/posts", create_post, methods=["POST"], name="board.create_post"),
        Route("/board/posts/{id:id}", post_page, methods=["GET"], name="board.post_page"),
        Route(
            "/board/posts/{id:id}/replies",
            create_reply,
            methods=["POST"],
            name="board.create_reply",
        ),
        Route("/board/posts/{id:id}/like", like_post, methods=["POST"], name="board.like_post"),
        Route("/board/posts/{id:id}/edit", edit_page, methods=["GET"], name="board.edit_page"),
        Route("/board/posts/{id:id}/edit", edit_post, methods=["POST"], name="board.edit_post"),
        Route(
            "/board/posts/{id:id}/delete", delete_post, methods=["POST"], name="board.delete_post"
        ),
        Route(
            "/board/posts/{id:id}/report", report_post, methods=["POST"], name="board.report_post"
        ),
        Route("/admin/board", admin_page, methods=["GET"], name="board.admin_page"),
        Route(
            "/admin/board/posts/{id:id}/{action:str}",
            admin_moderate,
            methods=["POST"],
            name="board.admin_moderate",
        ),
        Route("/admin/board/ban", admin_ban, methods=["POST"], name="board.admin_ban"),
        Route(
            "/admin/board/settings", admin_settings, methods=["POST"], name="board.admin_settings"
        ),
        Route(
            "/admin/board/categories", admin_category, methods=["POST"], name="board.admin_category"
        ),
    ]
