"""The console's JSON API: the audit log, and staff roles (owners)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts import audit, staff
from accounts.models import AuditEntry
from accounts.roles import Capability, StaffRole
from console import schemas
from console.routes import audit_filter
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import staff_member, staff_only


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


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/audit", list_audit, methods=["GET"], name="console.list_audit"),
        Route("/admin/staff/{user_id:id}", set_role, methods=["PUT"], name="console.set_role"),
    ]
