"""The console's outreach pages (Capability.OUTREACH): segments (/admin/segments), each with its
live count, built from a form, exported as CSV (Capability.EXPORT) and deleted; broadcasts
(/admin/broadcasts): the latest, a new one written and previewed as a member reads it and as
the mail, sent now or at a Shanghai time, and each one's progress, refreshed while it goes.
The JSON API (crm.api) is their twin over the same services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts import audit
from accounts.roles import Capability
from crm import broadcasts, notes, schemas, segments
from crm.broadcasts import MAX_BODY, MAX_TITLE, Audience
from crm.models import AudienceKind, BroadcastStatus
from errors import DomainError, ValidationError
from store import services as store
from web.api import line, read_fields, read_query, text
from web.auth import refuse_cross_site, staff_member, staff_only
from web.csrf import read_form
from web.errors import form_refused, in_reader_language
from web.forms import Fields, beijing_time, csv_download, whole_number
from web.rendering import SHANGHAI, flash, gettext_for, redirect_after_post, render

# --- Segments ------------------------------------------------------------------------------

FILTER_FIELDS = (
    "membership",
    "expires_within_days",
    "joined_within_days",
    "bought_product",
    "feed",
    "tag",
    "broadcast_mail",
)


class SegmentName(msgspec.Struct, kw_only=True):
    name: Annotated[str, line(60, min_length=1)]


def form_text(form: Mapping[str, Any]) -> dict[str, str]:
    """A form's text fields as typed (files and repeated names ignored: the last one wins)."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


def read_segment_form(values: Mapping[str, str]) -> tuple[str, segments.SegmentFilter]:
    """The segment form's name and filter: a field left blank (or "any") is no condition.
    Raises ValidationError listing every bad field."""
    given: dict[str, str] = {
        name: values[name].strip() for name in FILTER_FIELDS if values.get(name, "").strip()
    }
    if values.get("bought_in_last_drop"):
        given["bought_in_last_drop"] = "true"
    fields = Fields()
    name = fields.read(lambda: read_fields({"name": values.get("name", "")}, SegmentName))
    rules = fields.read(lambda: read_fields(given, schemas.Filter))
    fields.check()
    assert name is not None and rules is not None
    return name.name, segments.read_filter(msgspec.to_builtins(rules))


async def _products() -> dict[str, Any]:
    """The products a segment or an audience may name (the latest 200), as a select's options
    and by id."""
    products = await store.newest_products(limit=200)
    return {
        "product_options": [(str(p.id), p.title) for p in products],
        "product_titles": {p.id: p.title for p in products},
    }


async def _segments_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    refusal: DomainError | None = None,
) -> Response:
    context = {
        "segments": await segments.all_counted(now=datetime.now(UTC)),
        **await _products(),
        "tags": await notes.all_tags(),
        "errors": errors or {},
        "values": values or {},
    }
    if refusal is not None:
        return await form_refused(request, "crm/segments.html", context, refusal)
    return await render(request, "crm/segments.html", context)


@staff_only(Capability.OUTREACH)
async def segments_page(request: Request) -> Response:
    return await _segments_page(request)


def _refused(request: Request, exc: DomainError) -> dict[str, str]:
    """A refusal as the form shows it: each bad field's reason beside it, else one message."""
    if isinstance(exc, ValidationError):
        return {name: reason for name, reason in reversed(exc.errors)}
    return {"form": in_reader_language(request, exc)}


@staff_only(Capability.OUTREACH)
async def create_segment(request: Request) -> Response:
    values = form_text(await read_form(request))
    try:
        name, rules = read_segment_form(values)
        segment, count = await segments.create(
            actor=staff_member(request), name=name, rules=rules, now=datetime.now(UTC)
        )
    except DomainError as exc:
        return await _segments_page(
            request, errors=_refused(request, exc), values=values, refusal=exc
        )
    message = gettext_for(request)("The segment “%(name)s” was saved: %(count)s people now.")
    flash(request, message % {"name": segment.name, "count": count}, "success")
    return redirect_after_post(request, links.path("crm.admin.segments"))


@staff_only(Capability.OUTREACH)
async def delete_segment(request: Request) -> Response:
    await read_form(request)
    await segments.delete(
        actor=staff_member(request), segment_id=request.path_params["id"], now=datetime.now(UTC)
    )
    flash(request, gettext_for(request)("The segment was deleted."), "success")
    return redirect_after_post(request, links.path("crm.admin.segments"))


SEGMENT_COLUMNS = ("id", "email", "display_name", "member_until", "created_at")


async def _segment_rows(rules: segments.SegmentFilter) -> AsyncIterator[list[Any]]:
    async for user_id, email, name, member_until, created_at in segments.export_rows(
        rules, now=datetime.now(UTC)
    ):
        yield [
            user_id,
            email,
            name,
            member_until.astimezone(SHANGHAI).isoformat() if member_until else "",
            created_at.astimezone(SHANGHAI).isoformat(),
        ]


@staff_only(Capability.EXPORT)
async def segment_csv(request: Request) -> Response:
    """A segment's people as CSV (as they are now); the export is itself an audit entry."""
    refuse_cross_site(request)
    segment = await segments.get(request.path_params["id"])
    await audit.record(
        actor=staff_member(request),
        action="export.segment",
        object_type="segment",
        object_id=segment.id,
        after={"name": segment.name, "filter": segment.rules},
    )
    return csv_download(
        f"segment-{segment.id}.csv", SEGMENT_COLUMNS, _segment_rows(segments.rules_of(segment))
    )


# --- Broadcasts ----------------------------------------------------------------------------


@staff_only(Capability.OUTREACH)
async def broadcasts_page(request: Request) -> Response:
    latest = await broadcasts.recent()
    return await render(
        request,
        "crm/broadcasts.html",
        {"broadcasts": latest, "audience_names": await broadcasts.audience_names(latest)},
    )


class BroadcastText(msgspec.Struct, kw_only=True):
    title: Annotated[str, line(MAX_TITLE, min_length=1)]
    body: Annotated[str, text(MAX_BODY, min_length=1)]


def _chosen_id(values: Mapping[str, str], field: str) -> int:
    chosen = values.get(field, "").strip()
    if not chosen:
        raise ValidationError(field, "is required")
    number = whole_number(field, chosen)
    if not 1 <= number <= segments.MAX_ID:
        raise ValidationError(field, "must be an id")
    return number


def read_audience(values: Mapping[str, str]) -> Audience:
    """The audience radio, and the segment or product chosen for it."""
    try:
        kind = AudienceKind(values.get("audience", ""))
    except ValueError:
        raise ValidationError("audience", "is not one of the allowed values") from None
    if kind == AudienceKind.SEGMENT:
        return Audience(kind, _chosen_id(values, "segment_id"))
    if kind == AudienceKind.PRODUCT_BUYERS:
        return Audience(kind, _chosen_id(values, "product_id"))
    return Audience(kind)


def read_send_at(values: Mapping[str, str]) -> datetime | None:
    """None for "send now"; else the date and time typed, as Asia/Shanghai time."""
    if values.get("when", "now") != "later":
        return None
    if not values.get("send_at", "").strip():
        raise ValidationError("send_at", "is required")
    return beijing_time("send_at", values["send_at"])


def read_broadcast_form(
    values: Mapping[str, str],
) -> tuple[BroadcastText, Audience, datetime | None]:
    """The new broadcast's form. Raises ValidationError listing every bad field."""
    fields = Fields()
    written = fields.read(
        lambda: read_fields(
            {"title": values.get("title", ""), "body": values.get("body", "")}, BroadcastText
        )
    )
    audience = fields.read(lambda: read_audience(values))
    send_at = fields.read(lambda: read_send_at(values))
    fields.check()
    assert written is not None and audience is not None
    return written, audience, send_at


DEFAULTS = {"audience": "all_members", "when": "now"}


async def _new_page(
    request: Request,
    *,
    values: Mapping[str, str],
    errors: dict[str, str] | None = None,
    preview: broadcasts.Preview | None = None,
    refusal: DomainError | None = None,
) -> Response:
    context = {
        "values": {**DEFAULTS, **values},
        "errors": errors or {},
        "preview": preview,
        "segments": await segments.all_counted(now=datetime.now(UTC)),
        **await _products(),
    }
    if refusal is not None:
        return await form_refused(request, "crm/new_broadcast.html", context, refusal)
    return await render(request, "crm/new_broadcast.html", context)


@staff_only(Capability.OUTREACH)
async def new_broadcast(request: Request) -> Response:
    """The form; ?segment=<id> (from the segments page) chooses that segment."""
    chosen = read_query(request, schemas.NewBroadcastQuery).segment
    values = {"audience": "segment", "segment_id": chosen} if chosen else {}
    return await _new_page(request, values=values)


@staff_only(Capability.OUTREACH)
async def preview_broadcast(request: Request) -> Response:
    """The form again, with the broadcast as a member reads it and as the mail, and who it
    reaches; nothing is saved."""
    values = form_text(await read_form(request))
    try:
        written, audience, send_at = read_broadcast_form(values)
        shown = await broadcasts.preview(
            viewer=staff_member(request),
            title=written.title,
            body=written.body,
            audience=audience,
            send_at=send_at,
            now=datetime.now(UTC),
        )
    except DomainError as exc:
        return await _new_page(request, values=values, errors=_refused(request, exc), refusal=exc)
    # The mail's HTML is a whole document with its own inline styles, which the site's policy
    # refuses: it opens on a page of its own (mail_preview), kept in this browser's session.
    request.session[MAIL_PREVIEW] = (shown.mail.html or "")[:MAX_PREVIEW_CHARS]
    return await _new_page(request, values=values, preview=shown)


MAIL_PREVIEW = "broadcast_mail_preview"
MAX_PREVIEW_CHARS = 200_000
# The mail as a mail client shows it: its own inline styles and pictures from anywhere, and
# nothing else (no script, no form, no frame of it elsewhere).
MAIL_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


@staff_only(Capability.OUTREACH)
async def mail_preview(request: Request) -> Response:
    """The last previewed broadcast's mail, as its reader's mail client would show it."""
    html = request.session.get(MAIL_PREVIEW)
    if not isinstance(html, str) or not html:
        raise HTTPException(status_code=404, detail="Preview a broadcast first.")
    return HTMLResponse(
        html, headers={"Content-Security-Policy": MAIL_POLICY, "Cache-Control": "no-store"}
    )


@staff_only(Capability.OUTREACH)
async def create_broadcast(request: Request) -> Response:
    values = form_text(await read_form(request))
    try:
        written, audience, send_at = read_broadcast_form(values)
        broadcast = await broadcasts.create(
            actor=staff_member(request),
            title=written.title,
            body=written.body,
            audience=audience,
            send_at=send_at,
            now=datetime.now(UTC),
        )
    except DomainError as exc:
        return await _new_page(request, values=values, errors=_refused(request, exc), refusal=exc)
    _ = gettext_for(request)
    flash(
        request,
        _("The broadcast is being sent.")
        if broadcast.status != BroadcastStatus.SCHEDULED
        else _("The broadcast is scheduled."),
        "success",
    )
    return redirect_after_post(request, links.path("crm.admin.broadcast", id=broadcast.id))


async def _progress_context(broadcast_id: int) -> dict[str, Any]:
    broadcast = await broadcasts.get(broadcast_id)
    return {
        "broadcast": broadcast,
        "audience_names": await broadcasts.audience_names([broadcast]),
    }


@staff_only(Capability.OUTREACH)
async def broadcast_page(request: Request) -> Response:
    context = await _progress_context(request.path_params["id"])
    broadcast = context["broadcast"]
    found = await broadcasts.watched_words(broadcast.title, broadcast.body)
    return await render(request, "crm/broadcast.html", {**context, "watched_words": found})


@staff_only(Capability.OUTREACH)
async def broadcast_progress(request: Request) -> Response:
    """The progress part of a broadcast's page, polled by htmx every 2 s while it goes; the
    part it answers once the broadcast is done no longer polls."""
    return await render(
        request, "crm/_progress.html", await _progress_context(request.path_params["id"])
    )


@staff_only(Capability.OUTREACH)
async def cancel_broadcast(request: Request) -> Response:
    await read_form(request)
    broadcast_id = request.path_params["id"]
    await broadcasts.cancel(
        actor=staff_member(request), broadcast_id=broadcast_id, now=datetime.now(UTC)
    )
    flash(request, gettext_for(request)("The broadcast was canceled."), "success")
    return redirect_after_post(request, links.path("crm.admin.broadcast", id=broadcast_id))


def routes() -> list[BaseRoute]:
    """The outreach pages' routes, built when the app factory asks (after `{id:id}` is known)."""
    segment = "/admin/segments/{id:id}"
    broadcast = "/admin/broadcasts/{id:id}"
    return [
        Route("/admin/segments", segments_page, methods=["GET"], name="crm.admin.segments"),
        Route("/admin/segments", create_segment, methods=["POST"], name="crm.admin.create_segment"),
        Route(
            f"{segment}/delete", delete_segment, methods=["POST"], name="crm.admin.delete_segment"
        ),
        Route(f"{segment}.csv", segment_csv, methods=["GET"], name="crm.admin.segment_csv"),
        Route("/admin/broadcasts", broadcasts_page, methods=["GET"], name="crm.admin.broadcasts"),
        Route(
            "/admin/broadcasts",
            create_broadcast,
            methods=["POST"],
            name="crm.admin.create_broadcast",
        ),
        Route(
            "/admin/broadcasts/new", new_broadcast, methods=["GET"], name="crm.admin.new_broadcast"
        ),
        Route(
            "/admin/broadcasts/preview/mail",
            mail_preview,
            methods=["GET"],
            name="crm.admin.mail_preview",
        ),
        Route(
            "/admin/broadcasts/preview",
            preview_broadcast,
            methods=["POST"],
            name="crm.admin.preview_broadcast",
        ),
        Route(broadcast, broadcast_page, methods=["GET"], name="crm.admin.broadcast"),
        Route(
            f"{broadcast}/progress",
            broadcast_progress,
            methods=["GET"],
            name="crm.admin.broadcast_progress",
        ),
        Route(
            f"{broadcast}/cancel",
            cancel_broadcast,
            methods=["POST"],
            name="crm.admin.cancel_broadcast",
        ),
    ]
