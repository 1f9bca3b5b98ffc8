"""The review queue: what watched words held or flagged (and young accounts' pictures),
oldest first, for moderators to approve or reject with a reason the author reads.

What an item is belongs to its package: each kind ("post", "reply", ...) is a Reviewable,
registered in the app's Reviewables (wired by the composition root), which publishes a held
thing on approval and hides it on rejection. A decision is taken once: the item is claimed
by a guarded update before anything changes, so two moderators clicking at once decide once.
Each decision is an audit entry ("review.approve" / "review.reject") in its transaction; the
time an item waited (created_at to decided_at) is kept and shown.
"""

from __future__ import annotations

import statistics
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from accounts import audit, notices
from accounts.models import User
from errors import ValidationError
from moderation.errors import AlreadyDecided, ReviewItemNotFound
from moderation.models import ReviewItem, ReviewReason, ReviewStatus
from wiring import Wire

EXCERPT_CHARS = 300
NOTE_CHARS = 300
QUEUE_PAGE = 100
WAIT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Reviewable:
    """One kind of thing the queue holds, as its package sees it. `approve` and `reject` run
    inside the decision's transaction with the object's id and the moment; `link` is where
    its author (told of the decision) and a moderator read it; `label` names the kind
    (translatable, N_). `approved` and `rejected` are the notice kinds its author is told
    by (None: not told); `picture` is the address of a picture to decide on (a young
    account's avatar), shown in the queue, for kinds that have one."""

    label: str
    # Each returns whether it changed what others see (a held thing published, a shown one
    # hidden): the author is told only of a change.
    approve: Callable[[int, datetime], Awaitable[bool]]
    reject: Callable[[int, datetime], Awaitable[bool]]
    link: Callable[[int], Awaitable[str | None]]
    approved: str | None = "review_approved"
    rejected: str | None = "review_rejected"
    picture: Callable[[int], Awaitable[str | None]] | None = None
    # Who may see and decide items of this kind (a Capability's value): a member's message
    # to customer service is for the staff who read conversations, not every moderator.
    capability: str = "moderate"


@dataclass
class Reviewables:
    kinds: dict[str, Reviewable] = field(default_factory=dict)

    def register(self, kind: str, reviewable: Reviewable) -> None:
        self.kinds[kind] = reviewable


REVIEWABLES: Wire[Reviewables] = Wire("moderation.review.REVIEWABLES")


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


async def hold(
    kind: str,
    object_id: int,
    *,
    author_id: int,
    reason: ReviewReason,
    words: list[str],
    text: str,
    now: datetime,
) -> ReviewItem:
    """Put a thing in the queue (again after an edit: its waiting item is brought up to date,
    still as old as it was)."""
    waiting = await ReviewItem.get_or_none(
        kind=kind, object_id=object_id, status=ReviewStatus.WAITING
    )
    if waiting is not None:
        if reason == ReviewReason.HELD:
            waiting.reason = reason
        waiting.words = list(dict.fromkeys([*waiting.words, *words]))
        waiting.excerpt = _excerpt(text)
        await waiting.save(update_fields=["reason", "words", "excerpt"])
        return waiting
    return await ReviewItem.create(
        kind=kind,
        object_id=object_id,
        author_id=author_id,
        reason=reason,
        words=words,
        excerpt=_excerpt(text),
        created_at=now,
    )


async def is_held(kind: str, object_id: int) -> bool:
    return await ReviewItem.filter(
        kind=kind, object_id=object_id, status=ReviewStatus.WAITING, reason=ReviewReason.HELD
    ).exists()


@dataclass(frozen=True)
class Queue:
    items: list[ReviewItem]
    waiting: int
    oldest_waiting: timedelta | None  # how long the oldest item has waited
    median_wait: timedelta | None  # of the items decided in the last WAIT_WINDOW
    decided: int  # in the last WAIT_WINDOW


def kinds_for(viewer: User | None) -> list[str]:
    """The kinds `viewer` may see in the queue (None: every kind)."""
    kinds = REVIEWABLES.get().kinds
    return [k for k, r in kinds.items() if viewer is None or viewer.may(r.capability)]


async def queue(*, now: datetime, limit: int = QUEUE_PAGE, viewer: User | None = None) -> Queue:
    """What waits of the kinds `viewer` may decide, oldest first (held before flagged at the
    same age), and how long things wait: the oldest now, and the median of the last week's
    decisions."""
    waiting = ReviewItem.filter(status=ReviewStatus.WAITING, kind__in=kinds_for(viewer))
    items = await waiting.order_by("created_at", "id").limit(limit).select_related("author")
    count = await waiting.count()
    decided = await ReviewItem.filter(
        status__in=[ReviewStatus.APPROVED, ReviewStatus.REJECTED],
        decided_at__gte=now - WAIT_WINDOW,
    ).values_list("created_at", "decided_at")
    waits = [(done - made).total_seconds() for made, done in decided]
    return Queue(
        items=items,
        waiting=count,
        oldest_waiting=(now - items[0].created_at) if items else None,
        median_wait=timedelta(seconds=statistics.median(waits)) if waits else None,
        decided=len(waits),
    )


async def settle(
    kind: str, object_id: int, *, approved: bool, actor: User | None, now: datetime
) -> int:
    """A moderator decided the thing itself (the board's hide or show, a report taken down):
    its waiting item is closed as that decision, without calling back or telling anyone (the
    action that decided does). Returns how many items it closed (0 or 1)."""
    return await ReviewItem.filter(
        kind=kind, object_id=object_id, status=ReviewStatus.WAITING
    ).update(
        status=ReviewStatus.APPROVED if approved else ReviewStatus.REJECTED,
        decided_at=now,
        decided_by_id=actor.id if actor is not None else None,
    )


def clean_line(value: str, name: str, most: int, *, required: bool) -> str:
    """A moderator's note or a reporter's reason as kept: NFC, one line, at most `most`
    characters. Raises ValidationError naming the field."""
    clean = " ".join(unicodedata.normalize("NFC", value).split())
    if required and not clean:
        raise ValidationError(name, "is required")
    if len(clean) > most:
        raise ValidationError(name, f"must be at most {most} characters")
    return clean


def _note(text: str, *, required: bool) -> str:
    return clean_line(text, "note", NOTE_CHARS, required=required)


async def pictures(items: list[ReviewItem]) -> dict[int, str]:
    """The picture to decide on of each item whose kind has one (by item id)."""
    kinds = REVIEWABLES.get().kinds
    found: dict[int, str] = {}
    for item in items:
        reviewable = kinds.get(item.kind)
        if reviewable is not None and reviewable.picture is not None:
            address = await reviewable.picture(item.object_id)
            if address is not None:
                found[item.id] = address
    return found


async def decide(
    item_id: int, *, approve: bool, note: str, actor: User, now: datetime
) -> ReviewItem:
    """Approve (a held thing is published; a flagged one stays) or reject (it is hidden) an
    item, once. The author is told, with the note (required to reject), by the kind's notice
    (Reviewable.approved, .rejected), except of an approval that changed nothing for them (a
    flagged thing, shown all along, or one kept hidden for another reason). Raises
    ReviewItemNotFound, AlreadyDecided, ValidationError (note)."""
    reason = _note(note, required=not approve)
    item = await ReviewItem.get_or_none(id=item_id)
    if item is None:
        raise ReviewItemNotFound()
    reviewable = REVIEWABLES.get().kinds.get(item.kind)
    if reviewable is not None and not actor.may(reviewable.capability):
        raise ReviewItemNotFound()  # not this moderator's to see
    status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    async with in_transaction():
        claimed = await ReviewItem.filter(id=item.id, status=ReviewStatus.WAITING).update(
            status=status, decided_at=now, decided_by_id=actor.id, note=reason
        )
        if not claimed:
            raise AlreadyDecided()
        changed = False
        if reviewable is not None:
            act = reviewable.approve if approve else reviewable.reject
            changed = await act(item.object_id, now)
        await audit.record(
            actor=actor,
            action="review.approve" if approve else "review.reject",
            object_type=item.kind,
            object_id=item.object_id,
            before={"status": ReviewStatus.WAITING.value, "words": item.words},
            after={"status": status.value, "note": reason},
            now=now,
        )
    if reviewable is None:
        told: str | None = "review_approved" if approve else "review_rejected"
    else:
        told = reviewable.approved if approve else reviewable.rejected
    # An approval of something shown all along (flagged), or kept hidden for another reason,
    # changed nothing for its author: nobody is told.
    quiet = approve and (item.reason == ReviewReason.FLAGGED or not changed)
    if told is not None and not quiet:
        await notices.notify(
            item.author_id,  # type: ignore[attr-defined]
            kind=told,
            params={"excerpt": item.excerpt[:60], "note": reason},
            link=await reviewable.link(item.object_id) if reviewable is not None else None,
        )
    item.status, item.decided_at, item.note = status, now, reason
    return item
