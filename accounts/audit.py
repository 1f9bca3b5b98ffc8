"""The audit log: every staff action, with who did it, to what, and the object before and
after. `record` is called inside the action's own transaction (Tortoise's transaction is the
task's), so an action and its entry are stored together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.models import Model

from accounts.models import AuditEntry, User

PAGE_SIZE = 50
EXPORT_BATCH = 1000


def plain(value: Any) -> Any:
    """`value` as JSON can hold it: times as ISO 8601 UTC, enums as their value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return value


def snapshot(obj: Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a model instance, as the audit log keeps them."""
    return {name: plain(getattr(obj, name)) for name in fields}


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value changed, before and after (an edit's entry)."""
    keys = [key for key in after if plain(before.get(key)) != plain(after[key])]
    return {key: plain(before.get(key)) for key in keys}, {key: plain(after[key]) for key in keys}


async def record(
    *,
    actor: User | int | None,
    action: str,
    object_type: str,
    object_id: object = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Write one audit entry. Call it inside the action's transaction. `actor` None is the
    command line or the app itself."""
    actor_id = actor.id if isinstance(actor, User) else actor
    return await AuditEntry.create(
        actor_id=actor_id,
        action=action[:40],
        object_type=object_type[:30],
        object_id=None if object_id is None else str(object_id)[:40],
        before=plain(before) if before is not None else None,
        after=plain(after) if after is not None else None,
        at=now or datetime.now(UTC),
    )


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None  # half-open: since <= at < until
    until: datetime | None = None

    def query(self) -> Any:
        rows = AuditEntry.all()
        if self.actor_id is not None:
            rows = rows.filter(actor_id=self.actor_id)
        if self.action:
            rows = rows.filter(action=self.action)
        if self.object_type:
            rows = rows.filter(object_type=self.object_type)
        if self.object_id:
            rows = rows.filter(object_id=self.object_id)
        if self.since is not None:
            rows = rows.filter(at__gte=self.since)
        if self.until is not None:
            rows = rows.filter(at__lt=self.until)
        return rows


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


async def entries(
    where: AuditFilter, *, cursor: int | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """Entries matching `where`, newest first, `limit` at a time; `cursor` is the id the
    previous page ended before."""
    rows = where.query()
    if cursor is not None:
        rows = rows.filter(id__lt=cursor)
    found = await rows.order_by("-id").limit(limit + 1).select_related("actor")
    page = found[:limit]
    more = len(found) > limit
    return AuditPage(page, str(page[-1].id) if more and page else None)


EXPORT_FIELDS = (
    "id", "at", "actor_id", "actor__email", "action", "object_type", "object_id", "before", "after"
)  # fmt: skip


async def export_rows(where: AuditFilter) -> AsyncIterator[tuple[Any, ...]]:
    """Every entry matching `where` as a tuple of EXPORT_FIELDS (the actor's email joined in),
    newest first, read a batch at a time by id: an export of a million entries holds one batch
    in memory, and skips building a model instance per row."""
    cursor: int | None = None
    while True:
        rows = where.query()
        if cursor is not None:
            rows = rows.filter(id__lt=cursor)
        batch = await rows.order_by("-id").limit(EXPORT_BATCH).values_list(*EXPORT_FIELDS)
        for row in batch:
            yield tuple(row)
        if len(batch) < EXPORT_BATCH:
            return
        cursor = batch[-1][0]
