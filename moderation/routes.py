"""The report entry on the site's pages (举报): one form, on every post, reply, profile and
conversation, posting here; the JSON API's twin is moderation.api.make_report."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from errors import ValidationError
from moderation import reports
from web.auth import require_user
from web.csrf import read_form
from web.rendering import flash, gettext_for, redirect_after_post

KINDS = ("post", "reply", "profile", "conversation")


async def report(request: Request) -> Response:
    """A report from a page; back to the thing reported (its address from its package, never
    from the request), thanked."""
    user = await require_user(request)
    form = await read_form(request)
    kind = str(form.get("object_type", ""))
    raw_id = str(form.get("object_id", ""))
    if kind not in KINDS:
        raise ValidationError("object_type", f"must be one of {', '.join(KINDS)}")
    if not raw_id.isascii() or not raw_id.isdigit() or not 1 <= int(raw_id) <= 2_147_483_647:
        raise ValidationError("object_id", "must be a whole number")
    object_id = int(raw_id)
    shown = await reports.reportable(kind).find(object_id, user)
    back = shown.seen_at or shown.link or links.path("site.home")
    request.state.back = back  # a refusal (the reason missing) goes back there too
    await reports.report(
        kind,
        object_id,
        reporter=user,
        reason=str(form.get("reason", "")),
        now=datetime.now(UTC),
        counter=request.app.state.counter,
    )
    _ = gettext_for(request)
    flash(
        request,
        _("Thank you: the moderators will look at it; your inbox will tell you what came of it."),
        "success",
    )
    return redirect_after_post(request, back)


def routes() -> list[BaseRoute]:
    return [Route("/reports", report, methods=["POST"], name="moderation.report_page")]
