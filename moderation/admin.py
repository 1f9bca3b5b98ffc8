"""The console's moderation pages: the reported things (/admin/reports, MODERATE: the most
reported first, taken down or dismissed with a note the reporters read), the watched words
(/admin/watched-words, Capability.WATCHED_WORDS: the lists by action, words added one per
line or from a CSV file, the CSV to download, a box to test a sentence) and the review queue
(/admin/review, MODERATE: what waits, oldest first, with the words that put it there,
approved or rejected with a reason the author reads; how long things wait). The JSON API
(moderation.api) is their twin."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from errors import ValidationError
from moderation import reports, review, words
from moderation.matcher import Verdict
from moderation.models import WordAction
from web.api import Query, read_query, text
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render

# Words typed into the box: one per line, or separated by commas (either kind) or 、.
_SEPARATORS = re.compile(r"[\n,，、]+")


class TestQuery(Query):
    """The watched words' page: `text`, a sentence to test."""

    text: Annotated[str, text(words.TEST_CHARS)] = ""


@staff_only(Capability.WATCHED_WORDS)
async def words_page(request: Request) -> Response:
    sentence = read_query(request, TestQuery).text
    tested: Verdict | None = None
    if sentence.strip():
        tested = Verdict(sentence, tuple(await words.test_sentence(sentence)))
    return await render(
        request,
        "moderation/words.html",
        {
            "actions": list(WordAction),
            "lists": {action: await words.words_of(action) for action in WordAction},
            "counts": await words.counts(),
            "sentence": sentence,
            "tested": tested,
        },
    )


@staff_only(Capability.WATCHED_WORDS)
async def add_words(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("moderation.admin.words"))
    typed = str(form.get("words", ""))
    given = [w for w in _SEPARATORS.split(typed) if w.strip()]
    count = await words.add_words(
        str(form.get("action", "")), given, actor=staff_member(request), now=datetime.now(UTC)
    )
    _ = gettext_for(request)
    flash(request, _("%(n)d words added or moved.") % {"n": count}, "success")
    return redirect_after_post(request, links.path("moderation.admin.words"))


@staff_only(Capability.WATCHED_WORDS)
async def import_words(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("moderation.admin.words"))
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationError("file", "is required: a CSV file")
    data = await upload.read(words.CSV_BYTES + 1)
    await form.close()
    count = await words.import_csv(
        data,
        default_action=str(form.get("action", "")) or None,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    flash(request, _("%(n)d words added or moved.") % {"n": count}, "success")
    return redirect_after_post(request, links.path("moderation.admin.words"))


@staff_only(Capability.WATCHED_WORDS)
async def export_words(request: Request) -> Response:
    return Response(
        (await words.export_csv()).encode("utf-8-sig"),  # a BOM: Excel reads it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="watched-words.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@staff_only(Capability.WATCHED_WORDS)
async def remove_word(request: Request) -> Response:
    await read_form(request)  # the CSRF token
    await words.remove_word(
        request.path_params["id"], actor=staff_member(request), now=datetime.now(UTC)
    )
    return redirect_after_post(request, links.path("moderation.admin.words"))


@staff_only(Capability.MODERATE)
async def queue_page(request: Request) -> Response:
    queue = await review.queue(now=datetime.now(UTC), viewer=staff_member(request))
    return await render(
        request,
        "moderation/queue.html",
        {
            "queue": queue,
            "kinds": review.REVIEWABLES.get().kinds,
            # The picture to decide on (a young account's avatar), by item id.
            "pictures": await review.pictures(queue.items),
            "now": datetime.now(UTC),
        },
    )


@staff_only(Capability.MODERATE)
async def decide(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("moderation.admin.queue"))
    approve = form.get("decision") == "approve"
    await review.decide(
        request.path_params["id"],
        approve=approve,
        note=str(form.get("note", "")),
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    flash(
        request,
        _("Approved: it is shown.") if approve else _("Rejected: its author is told why."),
        "success",
    )
    return redirect_after_post(request, links.path("moderation.admin.queue"))


@staff_only(Capability.MODERATE)
async def reports_page(request: Request) -> Response:
    return await render(
        request,
        "moderation/reports.html",
        {
            "reported": await reports.open_reports(),
            "kinds": reports.REPORTABLES.get().kinds,
            "now": datetime.now(UTC),
        },
    )


@staff_only(Capability.MODERATE)
async def decide_reports(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("moderation.admin.reports"))
    take_down = form.get("decision") == "take_down"
    raw_id = str(form.get("object_id", ""))
    if not raw_id.isascii() or not raw_id.isdigit() or not 1 <= int(raw_id) <= 2_147_483_647:
        raise ValidationError("object_id", "must be a whole number")
    closed = await reports.decide(
        str(form.get("object_type", ""))[:20],
        int(raw_id),
        take_down=take_down,
        note=str(form.get("note", "")),
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    flash(
        request,
        (
            _("Taken down; %(n)d reporters told.")
            if take_down
            else _("Dismissed; %(n)d reporters told.")
        )
        % {"n": len(closed)},
        "success",
    )
    return redirect_after_post(request, links.path("moderation.admin.reports"))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/watched-words", words_page, methods=["GET"], name="moderation.admin.words"),
        Route("/admin/watched-words", add_words, methods=["POST"], name="moderation.admin.add"),
        Route(
            "/admin/watched-words/import",
            import_words,
            methods=["POST"],
            name="moderation.admin.import",
        ),
        Route(
            "/admin/watched-words.csv",
            export_words,
            methods=["GET"],
            name="moderation.admin.export",
        ),
        Route(
            "/admin/watched-words/{id:id}/remove",
            remove_word,
            methods=["POST"],
            name="moderation.admin.remove",
        ),
        Route("/admin/reports", reports_page, methods=["GET"], name="moderation.admin.reports"),
        Route(
            "/admin/reports/decision",
            decide_reports,
            methods=["POST"],
            name="moderation.admin.decide_reports",
        ),
        Route("/admin/review", queue_page, methods=["GET"], name="moderation.admin.queue"),
        Route(
            "/admin/review/{id:id}/decision",
            decide,
            methods=["POST"],
            name="moderation.admin.decide",
        ),
    ]
