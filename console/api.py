"""The console's JSON API: the audit log, staff roles (owners), and people: the search, a
person's page, staff's notes and admins' tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts import audit, staff
from accounts.models import AuditEntry, User
from accounts.roles import Capability, StaffRole
from console import schemas
from console.routes import audit_filter
from crm import notes, people
from crm.models import PersonNote
from web.api import iso, json_response, operation, read_fields, read_json, read_query
from web.auth import staff_member, staff_only
from web.i18n import api_locale
from web.schemas import VISIBLE_LINE_PATTERN


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor_id": entry.actor_id,  # type: ignore[attr-defined]
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "at": iso(entry.at),
    }


@operation(
    "The audit log, newest first, filtered by actor, action, object and day (admins)",
    query=schemas.AuditQuery,
    answer=schemas.AuditPage,
    auth="admin",
    tag="console",
)
@staff_only(Capability.AUDIT)
async def list_audit(request: Request) -> Response:
    query = read_query(request, schemas.AuditQuery)
    page = await audit.entries(
        audit_filter(query), cursor=int(query.cursor) if query.cursor else None
    )
    return json_response(
        {"items": [audit_json(e) for e in page.entries], "next_cursor": page.next_cursor}
    )


@operation(
    "Give a person a staff role, or take it away with null (owners)",
    body=schemas.StaffRoleChange,
    answer=schemas.StaffMember,
    auth="admin",
    tag="console",
    errors={404: "not_found", 409: "last_owner"},
)
@staff_only(Capability.STAFF)
async def set_role(request: Request) -> Response:
    data = await read_json(request, schemas.StaffRoleChange)
    user = await staff.set_role(
        actor=staff_member(request),
        user_id=request.path_params["user_id"],
        role=StaffRole(data.role) if data.role else None,
    )
    return json_response(
        {
            "user_id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": user.staff_role,
        }
    )


def person_found_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "created_at": iso(user.created_at),
        "member_until": iso(user.member_until),
        "email_verified": user.email_verified_at is not None,
        "staff_role": user.staff_role,
    }


@operation(
    "Find people by email, name, delivery phone, member card or account number, newest first",
    query=schemas.PeopleQuery,
    answer=schemas.PeopleFound,
    auth="admin",
    tag="console",
)
@staff_only(Capability.PEOPLE)
async def find_people(request: Request) -> Response:
    query = read_query(request, schemas.PeopleQuery)
    found, next_cursor = await people.find_people(
        query.q, cursor=int(query.cursor) if query.cursor else None
    )
    return json_response(
        {
            "items": [person_found_json(user) for user in found],
            "next_cursor": str(next_cursor) if next_cursor else None,
        }
    )


@operation(
    "A person's page: profile, ways in, membership, orders and payments (for roles that read "
    "them), the board, notices and mails, broadcasts, consents, activity, notes and tags",
    answer=schemas.PersonPage,
    auth="admin",
    tag="console",
)
@staff_only(Capability.PEOPLE)
async def person(request: Request) -> Response:
    reader = staff_member(request)
    page = await people.person_page(
        reader,
        request.path_params["user_id"],
        now=datetime.now(UTC),
        locale=api_locale(request, reader),
    )
    return json_response(msgspec.to_builtins(page))


def note_json(note: PersonNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "user_id": note.user_id,  # type: ignore[attr-defined]
        "body": note.body,
        "visibility": note.visibility.value,
        "author_id": note.author_id,  # type: ignore[attr-defined]
        "created_at": iso(note.created_at),
    }


@operation(
    "Write a note on a person: for staff, or (admins) for admins only",
    body=schemas.NewNote,
    answer=schemas.NoteWritten,
    status=201,
    auth="admin",
    tag="console",
)
@staff_only(Capability.NOTES)
async def add_note(request: Request) -> Response:
    data = await read_json(request, schemas.NewNote)
    note = await notes.add_note(
        author=staff_member(request),
        user_id=request.path_params["user_id"],
        body=data.body,
        visibility=data.visibility,
        now=datetime.now(UTC),
    )
    return json_response(note_json(note), status_code=201)


@operation(
    "Change who may read a note: staff, or admins only (admins)",
    body=schemas.NoteVisibilityChange,
    answer=schemas.NoteWritten,
    auth="admin",
    tag="console",
)
@staff_only(Capability.OUTREACH)
async def set_note_visibility(request: Request) -> Response:
    data = await read_json(request, schemas.NoteVisibilityChange)
    note = await notes.set_visibility(
        actor=staff_member(request),
        note_id=request.path_params["note_id"],
        visibility=data.visibility,
        now=datetime.now(UTC),
    )
    return json_response(note_json(note))


@operation(
    "Put a tag on a person (made when new; admins)",
    body=schemas.NewTag,
    answer=schemas.PersonTags,
    auth="admin",
    tag="console",
)
@staff_only(Capability.OUTREACH)
async def add_tag(request: Request) -> Response:
    data = await read_json(request, schemas.NewTag)
    tags = await notes.add_tag(
        actor=staff_member(request),
        user_id=request.path_params["user_id"],
        name=data.name,
        now=datetime.now(UTC),
    )
    return json_response({"tags": tags})


TAG_IN_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": notes.MAX_TAG,
    "pattern": VISIBLE_LINE_PATTERN,
}


@operation(
    "Take a tag off a person (admins); nothing when they do not carry it",
    answer=schemas.PersonTags,
    auth="admin",
    tag="console",
    path={"name": TAG_IN_PATH},
    errors={422: "invalid_field"},
)
@staff_only(Capability.OUTREACH)
async def remove_tag(request: Request) -> Response:
    tags = await notes.remove_tag(
        actor=staff_member(request),
        user_id=request.path_params["user_id"],
        name=read_fields({"name": request.path_params["name"]}, schemas.NewTag).name,
        now=datetime.now(UTC),
    )
    return json_response({"tags": tags})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/audit", list_audit, methods=["GET"], name="console.list_audit"),
        Route("/admin/staff/{user_id:id}", set_role, methods=["PUT"], name="console.set_role"),
        Route("/admin/people", find_people, methods=["GET"], name="console.find_people"),
        Route("/admin/people/{user_id:id}", person, methods=["GET"], name="console.person"),
        Route(
            "/admin/people/{user_id:id}/notes",
            add_note,
            methods=["POST"],
            name="console.add_note",
        ),
        Route("/admin/people/{user_id:id}/tags", add_tag, methods=["POST"], name="console.add_tag"),
        Route(
            "/admin/people/{user_id:id}/tags/{name}",
            remove_tag,
            methods=["DELETE"],
            name="console.remove_tag",
        ),
        Route(
            "/admin/notes/{note_id:id}",
            set_note_visibility,
            methods=["PUT"],
            name="console.set_note_visibility",
        ),
    ]
