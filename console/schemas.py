"""The console API's declared shapes: the audit log and staff roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from web.api import Answer, Body, Query, line
from web.paths import ID_PATTERN
from web.schemas import OptionalDay

# Each filter may be given empty (a form sends every field; "actor=" is "anyone").
OptionalId = Annotated[str, msgspec.Meta(pattern=f"^(?:{ID_PATTERN})?$")]
Day = OptionalDay


class AuditQuery(Query):
    """Filters of the audit log, every one optional: `actor` is the acting person's user id;
    `since` and `until` are days in Asia/Shanghai, both included; `cursor` is a page's
    `next_cursor`."""

    actor: OptionalId = ""
    action: Annotated[str, line(40)] = ""
    object_type: Annotated[str, line(30)] = ""
    object_id: Annotated[str, line(40)] = ""
    since: Day = ""
    until: Day = ""
    cursor: OptionalId = ""


class PeopleQuery(Query):
    """The staff page's person finder: an email's start, part of a name, or a number."""

    q: Annotated[str, line(100)] = ""


class AuditEntry(Answer):
    id: int
    actor_id: int | None  # None: the command line or the app itself
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: str


class AuditPage(Answer):
    items: list[AuditEntry]
    next_cursor: str | None


class StaffRoleChange(Body):
    role: Literal["owner", "admin", "support", "moderator"] | None


class StaffMember(Answer):
    user_id: int
    email: str
    display_name: str
    role: str | None
