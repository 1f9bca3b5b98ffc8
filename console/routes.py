"""The console's own pages: the overview, people (the search, a person's page with staff's
notes and tags), the audit log (and its CSV), the staff and their roles; and the redirects
from the admin pages' old addresses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import links
from accounts import audit, legal_documents, notices, staff
from accounts.browsers import browser_of
from accounts.roles import Capability, StaffRole
from console.labels import ACTION_LABELS, ACTIVITY_LABELS, OBJECT_LABELS
from console.schemas import AuditQuery, NewNote, NoteVisibilityChange, PeopleQuery, TagField
from crm import notes, people
from crm.models import PersonNote
from errors import ValidationError
from web.auth import refuse_cross_site, staff_member, staff_only
from web.csrf import read_form
from web.decoding import read_fields, read_query
from web.forms import csv_download
from web.i18n import choose_locale
from web.rendering import (
    SHANGHAI,
    flash,
    gettext_for,
    on_error_back,
    redirect_after_post,
    render,
)


def audit_filter(query: AuditQuery) -> audit.AuditFilter:
    """The query's filters; days are Asia/Shanghai days, `until` included."""

    def day_start(field: str, day: str) -> datetime:
        try:
            return datetime.combine(date.fromisoformat(day), time(), tzinfo=SHANGHAI)
        except ValueError:  # the pattern lets 2026-02-30 through
            raise ValidationError(field, "is not a day of the calendar") from None

    return audit.AuditFilter(
        actor_id=int(query.actor) if query.actor else None,
        action=query.action.strip() or None,
        object_type=query.object_type.strip() or None,
        object_id=query.object_id.strip() or None,
        since=day_start("since", query.since) if query.since else None,
        until=day_start("until", query.until) + timedelta(days=1) if query.until else None,
    )


SHOWN_VALUE = 60  # characters of a value shown in the log's table (the CSV has them whole)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def change_rows(entry: Any) -> list[tuple[str, str | None, str | None]]:
    """An entry's fields as (name, before, after) to show: None where a side lacks it (a
    creation has no before, a deletion no after)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    names = list(dict.fromkeys([*before, *after]))
    return [
        (
            name,
            _shown(before[name]) if name in before else None,
            _shown(after[name]) if name in after else None,
        )
        for name in names
    ]


@staff_only(Capability.CONSOLE)
async def home(request: Request) -> Response:
    # Nothing published: nobody is asked anything (PIPL art. 14); said where staff look first.
    versions = await legal_documents.current_versions()
    return await render(request, "console/home.html", {"regime_on": versions.regime_on})


@staff_only(Capability.PEOPLE)
async def people_page(request: Request) -> Response:
    """Find a person by email, name, delivery phone, member card or account number."""
    query = read_query(request, PeopleQuery)
    found, next_cursor = await people.find_people(
        query.q, cursor=int(query.cursor) if query.cursor else None
    )
    return await render(
        request,
        "console/people.html",
        {"q": query.q, "found": found, "next_cursor": next_cursor, "cursor": query.cursor},
    )


def _person_path(user_id: int) -> str:
    return links.path("console.person", id=user_id)


@staff_only(Capability.PEOPLE)
async def person_page(request: Request) -> Response:
    """Everything the back office knows of one person, as the reader's role may see it."""
    reader = staff_member(request)
    page = await people.person_page(
        reader,
        request.path_params["id"],
        now=datetime.now(UTC),
        locale=choose_locale(request),
    )
    return await render(
        request,
        "console/person.html",
        {
            "page": page,
            "person": page.profile,
            "all_tags": await notes.all_tags() if reader.may(Capability.OUTREACH) else [],
            "browser_of": browser_of,
            "notice_labels": {name: kind.label for name, kind in notices.kinds().items()},
            "activity_labels": ACTIVITY_LABELS,
            "max_note": notes.MAX_NOTE,
            "max_tag": notes.MAX_TAG,
        },
    )


@staff_only(Capability.NOTES)
async def add_note(request: Request) -> Response:
    user_id = request.path_params["id"]
    form = await read_form(request)
    on_error_back(request, _person_path(user_id))
    data = read_fields(
        {"body": form.get("body", ""), "visibility": form.get("visibility") or "staff"},
        NewNote,
    )
    await notes.add_note(
        author=staff_member(request),
        user_id=user_id,
        body=data.body,
        visibility=data.visibility,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("The note was saved."), "success")
    return redirect_after_post(request, _person_path(user_id))


@staff_only(Capability.OUTREACH)
async def set_note_visibility(request: Request) -> Response:
    form = await read_form(request)
    note_id = request.path_params["id"]
    noted = await PersonNote.get_or_none(id=note_id)
    if noted is not None:
        on_error_back(request, _person_path(noted.user_id))  # type: ignore[attr-defined]
    data = read_fields({"visibility": form.get("visibility", "")}, NoteVisibilityChange)
    note = await notes.set_visibility(
        actor=staff_member(request),
        note_id=note_id,
        visibility=data.visibility,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Who may read the note was saved."), "success")
    return redirect_after_post(request, _person_path(note.user_id))  # type: ignore[attr-defined]


@staff_only(Capability.OUTREACH)
async def add_tag(request: Request) -> Response:
    user_id = request.path_params["id"]
    form = await read_form(request)
    on_error_back(request, _person_path(user_id))
    await notes.add_tag(
        actor=staff_member(request),
        user_id=user_id,
        name=read_fields({"tag": form.get("tag", "")}, TagField).tag,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("The tag was added."), "success")
    return redirect_after_post(request, _person_path(user_id))


@staff_only(Capability.OUTREACH)
async def remove_tag(request: Request) -> Response:
    user_id = request.path_params["id"]
    form = await read_form(request)
    on_error_back(request, _person_path(user_id))
    await notes.remove_tag(
        actor=staff_member(request),
        user_id=user_id,
        name=read_fields({"tag": form.get("tag", "")}, TagField).tag,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("The tag was removed."), "success")
    return redirect_after_post(request, _person_path(user_id))


@staff_only(Capability.AUDIT)
async def audit_page(request: Request) -> Response:
    query = read_query(request, AuditQuery)
    page = await audit.entries(
        audit_filter(query), cursor=int(query.cursor) if query.cursor else None
    )
    filters = {
        key: value
        for key, value in {
            "actor": query.actor,
            "action": query.action,
            "object_type": query.object_type,
            "object_id": query.object_id,
            "since": query.since,
            "until": query.until,
        }.items()
        if value
    }
    return await render(
        request,
        "console/audit.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "actions": list(ACTION_LABELS),
            "action_labels": ACTION_LABELS,
            "change_rows": change_rows,
            "object_labels": OBJECT_LABELS,
            "staff": await staff.staff(),
        },
    )


AUDIT_COLUMNS: Sequence[str] = (
    "id", "at", "actor_id", "actor_email", "action", "object_type", "object_id", "before", "after"
)  # fmt: skip


async def _audit_rows(where: audit.AuditFilter) -> AsyncIterator[list[Any]]:
    async for (
        entry_id,
        at,
        actor_id,
        email,
        action,
        kind,
        object_id,
        before,
        after,
    ) in audit.export_rows(where):
        yield [
            entry_id,
            at.astimezone(SHANGHAI).isoformat(),
            actor_id or "",
            email or "",
            action,
            kind,
            object_id or "",
            json.dumps(before, ensure_ascii=False) if before is not None else "",
            json.dumps(after, ensure_ascii=False) if after is not None else "",
        ]


@staff_only(Capability.EXPORT)
async def audit_csv(request: Request) -> Response:
    """The audit log (filtered as the page is) as CSV; the export is itself an entry."""
    refuse_cross_site(request)
    query = read_query(request, AuditQuery)
    where = audit_filter(query)
    await audit.record(
        actor=staff_member(request),
        action="export.audit",
        object_type="audit",
        after={"filters": {k: v for k, v in vars(where).items() if v is not None}},
    )
    return csv_download("audit.csv", AUDIT_COLUMNS, _audit_rows(where))


@staff_only(Capability.STAFF)
async def staff_page(request: Request) -> Response:
    found_text = read_query(request, PeopleQuery).q
    return await render(
        request,
        "console/staff.html",
        {
            "staff": await staff.staff(),
            "q": found_text,
            "found": (await people.find_people(found_text))[0],
            "roles": [role.value for role in StaffRole],
        },
    )


@staff_only(Capability.STAFF)
async def set_role(request: Request) -> Response:
    form = await read_form(request)
    chosen = str(form.get("role", ""))
    if chosen and chosen not in {role.value for role in StaffRole}:
        raise ValidationError("role", "must be owner, admin, support, moderator or none")
    await staff.set_role(
        actor=staff_member(request),
        user_id=request.path_params["id"],
        role=StaffRole(chosen) if chosen else None,
    )
    flash(request, gettext_for(request)("The role was saved."), "success")
    return redirect_after_post(request, links.path("console.staff"))


# The admin pages' addresses before the console (GET only: forms post to the new ones).
LEGACY_PREFIXES = (
    ("/feed/admin", "/admin/feed"),
    ("/board/admin", "/admin/board"),
    ("/membership/admin", "/admin/membership"),
    ("/store/admin", "/admin/catalogue"),
    ("/payments/admin", "/admin/payments"),
    ("/jobs/admin", "/admin/jobs"),
)


def _legacy(new_prefix: str) -> Any:
    async def moved(request: Request) -> Response:
        # Only the path's remainder is carried over, under our own prefix: a same-site path.
        rest = request.path_params.get("rest", "")
        if new_prefix == "/admin/catalogue" and rest.startswith("/orders"):
            target = "/admin/orders" + rest.removeprefix("/orders")
        else:
            target = new_prefix + rest if rest.startswith("/") or not rest else new_prefix
        query = request.url.query
        return RedirectResponse(target + (f"?{query}" if query else ""), status_code=301)

    return moved


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin", home, methods=["GET"], name="console.home"),
        Route("/admin/people", people_page, methods=["GET"], name="console.people"),
        Route("/admin/people/{id:id}", person_page, methods=["GET"], name="console.person"),
        Route("/admin/people/{id:id}/notes", add_note, methods=["POST"], name="console.add_note"),
        Route(
            "/admin/notes/{id:id}/visibility",
            set_note_visibility,
            methods=["POST"],
            name="console.set_note_visibility",
        ),
        Route("/admin/people/{id:id}/tags", add_tag, methods=["POST"], name="console.add_tag"),
        Route(
            "/admin/people/{id:id}/tags/remove",
            remove_tag,
            methods=["POST"],
            name="console.remove_tag",
        ),
        Route("/admin/audit", audit_page, methods=["GET"], name="console.audit"),
        Route("/admin/audit.csv", audit_csv, methods=["GET"], name="console.audit_csv"),
        Route("/admin/staff", staff_page, methods=["GET"], name="console.staff"),
        Route("/admin/staff/{id:id}", set_role, methods=["POST"], name="console.set_role"),
        *(
            Route(
                f"{old}{{rest:path}}",
                _legacy(new),
                methods=["GET"],
                name=f"console.moved{old.replace('/', '.')}",
            )
            for old, new in LEGACY_PREFIXES
        ),
    ]
