"""Reports (举报): a prominent entry on every post, reply, profile and conversation, answered.

A member reports a thing once (again: the same report). Moderators see the things reported,
the most reported first, then the oldest (GET /admin/reports), and decide each thing once for
all its open reports: take it down (its package hides it) or dismiss (it stays, with a note).
Every reporter is told the outcome in their inbox (report_taken_down / report_dismissed), and
the decision is an audit entry ("report.take_down" / "report.dismiss") in its transaction.

What a thing is belongs to its package: each kind is a Reportable in the app's Reportables
(wired by the composition root) that finds it as the reporter sees it (or raises the
package's not-found error), says what to show of it and where it is, and takes it down. A
package that hides a reported thing its own way (the board's hide button) closes its reports
through close(), so the reporters are told the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count, Max, Min
from tortoise.transactions import in_transaction

from accounts import audit, notices
from accounts.models import User
from errors import DomainError, RateLimited
from moderation.errors import ModerationErrorCode
from moderation.models import Report, ReportStatus
from moderation.review import clean_line
from ratelimit import Counter, Limit, seconds_left
from wiring import Wire

REASON_CHARS = 500
NOTE_CHARS = 300
EXCERPT_CHARS = 120
REPORTS_PER_PERSON = Limit(attempts=20, window_seconds=10 * 60)
PAGE = 100


class NothingToReport(DomainError):
    """An object_type nobody reports, or a thing the reporter cannot see (or that is gone)."""

    code = ModerationErrorCode.REPORTED_NOT_FOUND
    status = 404
    default_message = "There is no such thing to report."


class NoOpenReports(DomainError):
    code = ModerationErrorCode.NO_OPEN_REPORTS
    status = 409
    default_message = "Nothing is reported of it any more: another moderator decided."


@dataclass(frozen=True)
class Shown:
    """What the moderators and the reporters read of a reported thing."""

    excerpt: str
    link: str | None  # where the moderators read it
    author_id: int | None
    seen_at: str | None = None  # where its reporter saw it, when not at `link`


@dataclass(frozen=True)
class Reportable:
    """One kind of reportable thing, as its package sees it. `find(object_id, reporter)`
    returns what to show of it, or raises (not there, or not for this reporter's eyes);
    `find(object_id, None)` is the moderators' look. `take_down(object_id, actor, now, note)`
    hides it and tells its author (with the moderator's note) inside the decision's
    transaction; None: nothing to hide, the report is acted on elsewhere (a conversation with
    the staff)."""

    label: str
    find: Callable[[int, User | None], Awaitable[Shown]]
    take_down: Callable[[int, User, datetime, str], Awaitable[None]] | None


@dataclass
class Reportables:
    kinds: dict[str, Reportable] = field(default_factory=dict)

    def register(self, kind: str, reportable: Reportable) -> None:
        self.kinds[kind] = reportable


REPORTABLES: Wire[Reportables] = Wire("moderation.reports.REPORTABLES")


def reportable(kind: str) -> Reportable:
    found = REPORTABLES.get().kinds.get(kind)
    if found is None:
        raise NothingToReport()
    return found


async def report(
    object_type: str,
    object_id: int,
    *,
    reporter: User,
    reason: str,
    now: datetime,
    counter: Counter | None = None,
) -> Report:
    """`reporter` reports a thing they can see, with a reason; once per person and thing (the
    same report again). Raises NothingToReport (or the kind's not-found error),
    ValidationError (reason), RateLimited."""
    why = clean_line(reason, "reason", REASON_CHARS, required=True)
    kind = reportable(object_type)
    await kind.find(object_id, reporter)
    existing = await Report.get_or_none(
        object_type=object_type, object_id=object_id, reporter_id=reporter.id
    )
    if existing is not None:
        return existing
    if counter is not None:
        hits = await counter.hit(f"reports:{reporter.id}", REPORTS_PER_PERSON)
        if hits > REPORTS_PER_PERSON.attempts:
            raise RateLimited(seconds_left(REPORTS_PER_PERSON), "Too many reports at once.")
    try:
        return await Report.create(
            object_type=object_type,
            object_id=object_id,
            reporter_id=reporter.id,
            reason=why,
            created_at=now,
        )
    except IntegrityError:  # the same person's twin request
        return await Report.get(
            object_type=object_type, object_id=object_id, reporter_id=reporter.id
        )


@dataclass(frozen=True)
class Reported:
    """One reported thing and its open reports."""

    object_type: str
    object_id: int
    count: int
    first_at: datetime
    last_at: datetime
    reasons: list[str]
    shown: Shown | None  # None: it is gone


async def open_reports(*, limit: int = PAGE) -> list[Reported]:
    """The things with open reports: the most reported first, then the one waiting longest."""
    groups = (
        await Report.filter(status=ReportStatus.OPEN)
        .annotate(count=Count("id"), first_at=Min("created_at"), last_at=Max("created_at"))
        .group_by("object_type", "object_id")
        .order_by("-count", "first_at")
        .limit(limit)
        .values("object_type", "object_id", "count", "first_at", "last_at")
    )
    found = []
    for group in groups:
        reasons = (
            await Report.filter(
                status=ReportStatus.OPEN,
                object_type=group["object_type"],
                object_id=group["object_id"],
            )
            .order_by("id")
            .values_list("reason", flat=True)
        )
        shown = None
        kind = REPORTABLES.get().kinds.get(group["object_type"])
        if kind is not None:
            try:
                shown = await kind.find(group["object_id"], None)
            except DomainError:
                shown = None
        found.append(
            Reported(
                object_type=group["object_type"],
                object_id=group["object_id"],
                count=group["count"],
                first_at=group["first_at"],
                last_at=group["last_at"],
                reasons=[str(reason) for reason in reasons],
                shown=shown,
            )
        )
    return found


async def open_reports_of_kind(object_type: str, *, limit: int = PAGE) -> list[Report]:
    """Open reports of one kind of thing, oldest first, with their reporters."""
    return (
        await Report.filter(status=ReportStatus.OPEN, object_type=object_type)
        .select_related("reporter")
        .order_by("id")
        .limit(limit)
    )


async def close(
    object_type: str,
    object_id: int,
    *,
    outcome: ReportStatus,
    note: str = "",
    actor: User | None,
    now: datetime,
    excerpt: str = "",
) -> list[Report]:
    """Close the open reports of one thing (in the caller's transaction) with `outcome`, and
    tell each reporter. Returns the reports closed (none: nothing was open)."""
    reports = list(
        await Report.filter(
            status=ReportStatus.OPEN, object_type=object_type, object_id=object_id
        ).order_by("id")
    )
    if not reports:
        return []
    closed = await Report.filter(id__in=[r.id for r in reports], status=ReportStatus.OPEN).update(
        status=outcome, decided_at=now, decided_by_id=actor.id if actor else None, note=note
    )
    if closed != len(reports):
        raise NoOpenReports()
    kind = "report_taken_down" if outcome == ReportStatus.TAKEN_DOWN else "report_dismissed"
    shown = excerpt[:EXCERPT_CHARS] or object_type
    for item in reports:
        await notices.notify(
            item.reporter_id,  # type: ignore[attr-defined]
            kind=kind,
            params={"excerpt": shown, "note": note},
            now=now,
        )
    return reports


async def decide(
    object_type: str,
    object_id: int,
    *,
    take_down: bool,
    note: str,
    actor: User,
    now: datetime,
) -> list[Report]:
    """Decide every open report of one thing: take it down (its package hides it) or
    dismiss them (the note, required then, tells the reporters why it stays). Raises
    NothingToReport (a kind nobody reports), NoOpenReports, ValidationError (note)."""
    why = clean_line(note, "note", NOTE_CHARS, required=not take_down)
    kind = reportable(object_type)
    shown: Shown | None
    try:
        shown = await kind.find(object_id, None)
    except DomainError:
        shown = None  # gone (deleted): its reports are closed all the same
    async with in_transaction():
        # Claimed first (a guarded update): a second moderator deciding at the same moment
        # finds nothing open and is told so, before anything is hidden.
        closed = await close(
            object_type,
            object_id,
            outcome=ReportStatus.TAKEN_DOWN if take_down else ReportStatus.DISMISSED,
            note=why,
            actor=actor,
            now=now,
            excerpt=shown.excerpt if shown else "",
        )
        if not closed:
            raise NoOpenReports()
        if take_down and kind.take_down is not None and shown is not None:
            await kind.take_down(object_id, actor, now, why)
        open_ids = [r.id for r in closed]
        await audit.record(
            actor=actor,
            action="report.take_down" if take_down else "report.dismiss",
            object_type=object_type,
            object_id=object_id,
            before={"open_reports": open_ids},
            after={"open_reports": [], "note": why},
            now=now,
        )
    return await Report.filter(id__in=open_ids).order_by("id")
