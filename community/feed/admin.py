"""The feed's console pages (/admin/feed): write, schedule, edit, unpublish and publish again;
analytics; the podcast's artwork. Staff whose role grants the feed capability only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from community.feed import analytics, artwork, editing
from community.feed.audio import CheckedAudio, check_audio
from community.feed.errors import KeywordTaken
from community.feed.models import FeedItem
from errors import ValidationError
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.forms import optional_beijing_time
from web.rendering import SHANGHAI, flash, gettext_for, on_error_back, redirect_after_post, render


@staff_only(Capability.FEED)
async def dashboard(request: Request) -> Response:
    return await _dashboard(request)


async def _dashboard(request: Request, errors: dict[str, str] | None = None) -> Response:
    # Show the counts up to this moment.
    await analytics.flush_analytics(request.app.state.memory.feed)
    items = await editing.admin_items()
    _key, shown = await artwork.artwork_object()
    context = {
        "items": items,
        "now": datetime.now(UTC),
        "errors": errors or {},
        "artwork_uploaded": await artwork.is_uploaded(),
        # The page shows the artwork just uploaded, not the one the browser kept for an hour.
        "artwork_version": shown.etag.strip('"')[:32],
    }
    return await render(
        request, "community/admin.html", context, status_code=422 if errors else 200
    )


def _form_values(item: FeedItem | None) -> dict[str, Any]:
    if item is None:
        return {
            "title": "",
            "body": "",
            "keyword": "",
            "members_only": False,
            "teaser": "",
            "publish_at": "",
        }
    return {
        "title": item.title,
        "body": item.body,
        "keyword": item.keyword,
        "members_only": item.members_only,
        "teaser": item.teaser,
        "publish_at": item.publish_at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
    }


async def _form_page(
    request: Request,
    item: FeedItem | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return await render(
        request,
        "community/admin_form.html",
        {"item": item, "values": values or _form_values(item), "errors": errors or {}},
        status_code=422 if errors else 200,
    )


@staff_only(Capability.FEED)
async def new_item(request: Request) -> Response:
    return await _form_page(request, None)


@staff_only(Capability.FEED)
async def edit_item(request: Request) -> Response:
    return await _form_page(request, await editing.get_item(request.path_params["id"]))


async def _read(form: FormData) -> tuple[dict[str, Any], CheckedAudio | None]:
    values = {
        "title": str(form.get("title", "")),
        "body": str(form.get("body", "")),
        "keyword": str(form.get("keyword", "")),
        "members_only": form.get("members_only") == "on",
        "teaser": str(form.get("teaser", "")),
        "publish_at": str(form.get("publish_at", "")),
        "remove_audio": form.get("remove_audio") == "on",
    }
    upload = form.get("audio")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    await form.close()
    return values, (check_audio(data) if data else None)


@staff_only(Capability.FEED)
async def save_item(request: Request) -> Response:
    admin = staff_member(request)
    form = await read_form(request)
    item_id = request.path_params.get("id")
    item = await editing.get_item(item_id) if item_id is not None else None
    values: dict[str, Any] = {}
    _ = gettext_for(request)
    try:
        values, audio = await _read(form)
        publish_at = optional_beijing_time("publish_at", values["publish_at"])
        if item is None:
            item = await editing.create_item(
                title=values["title"],
                body=values["body"],
                keyword=values["keyword"],
                members_only=values["members_only"],
                teaser=values["teaser"],
                publish_at=publish_at,
                author=admin,
                audio=audio,
                now=datetime.now(UTC),
                memory=request.app.state.memory.feed,
                actor=admin,
            )
            flash(request, _("The item was saved."), "success")
        else:
            await editing.update_item(
                item.id,
                title=values["title"],
                body=values["body"],
                keyword=values["keyword"],
                members_only=values["members_only"],
                teaser=values["teaser"],
                publish_at=publish_at,
                audio=audio,
                remove_audio=values["remove_audio"],
                memory=request.app.state.memory.feed,
                actor=admin,
                now=datetime.now(UTC),
            )
            flash(request, _("The item was updated."), "success")
    except ValidationError as exc:
        return await _form_page(request, item, values or None, {exc.field: _(exc.reason)})
    except KeywordTaken as exc:
        return await _form_page(request, item, values, {"keyword": exc.message})
    return redirect_after_post(request, links.path("feed.admin.dashboard"))


@staff_only(Capability.FEED)
async def set_published(request: Request) -> Response:
    await read_form(request)
    on_error_back(
        request, links.path("feed.admin.dashboard")
    )  # a keyword taken meanwhile: said there (web.errors)
    _ = gettext_for(request)
    publish = request.url.path.endswith("/publish")
    await editing.set_published(
        request.path_params["id"],
        publish,
        memory=request.app.state.memory.feed,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, _("Published again.") if publish else _("Unpublished."), "success")
    return redirect_after_post(request, links.path("feed.admin.dashboard"))


@staff_only(Capability.FEED)
async def upload_artwork(request: Request) -> Response:
    form = await read_form(request)
    upload = form.get("artwork")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    await form.close()
    _ = gettext_for(request)
    try:
        await artwork.upload_artwork(
            data,
            pictures=request.app.state.pictures,
            actor=staff_member(request),
            now=datetime.now(UTC),
        )
    except ValidationError as exc:
        return await _dashboard(request, {exc.field: exc.reason})
    flash(request, _("The podcast artwork was saved."), "success")
    return redirect_after_post(request, links.path("feed.admin.dashboard"))


@staff_only(Capability.FEED)
async def remove_artwork(request: Request) -> Response:
    await read_form(request)
    await artwork.remove_artwork(
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("The podcast shows the drawn artwork again."), "success")
    return redirect_after_post(request, links.path("feed.admin.dashboard"))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/feed", dashboard, methods=["GET"], name="feed.admin.dashboard"),
        Route("/admin/feed/new", new_item, methods=["GET"], name="feed.admin.new_item"),
        Route("/admin/feed/new", save_item, methods=["POST"], name="feed.admin.create_item"),
        Route("/admin/feed/{id:id}/edit", edit_item, methods=["GET"], name="feed.admin.edit_item"),
        Route("/admin/feed/{id:id}/edit", save_item, methods=["POST"], name="feed.admin.save_item"),
        Route(
            "/admin/feed/{id:id}/unpublish",
            set_published,
            methods=["POST"],
            name="feed.admin.unpublish",
        ),
        Route(
            "/admin/feed/{id:id}/publish",
            set_published,
            methods=["POST"],
            name="feed.admin.publish",
        ),
        Route(
            "/admin/feed/podcast-artwork",
            upload_artwork,
            methods=["POST"],
            name="feed.admin.upload_artwork",
        ),
        Route(
            "/admin/feed/podcast-artwork/remove",
            remove_artwork,
            methods=["POST"],
            name="feed.admin.remove_artwork",
        ),
    ]
