"""Enrollment windows: when they sell, how many seats, and their numbers for admins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from changes import WINDOW, announce
from errors import ValidationError
from membership.benefits import Question, check_benefits, check_faq
from membership.errors import (
    Closed,
    NoWindow,
    WindowNotFound,
    WindowOverlap,
    WindowStarted,
)
from membership.models import (
    Enrollment,
    EnrollmentStatus,
    EnrollmentWindow,
    Seat,
    WaitlistEntry,
)

DEFAULT_TERM_DAYS = 365

MAX_SEATS = 100_000

MAX_PRICE_FEN = 10_000_000

# What a window's audit entries show of it ("window.create", "window.update", "window.close").
AUDITED_FIELDS = (
    "name", "price_fen", "seats", "opens_at", "closes_at", "closed_at", "term_days", "benefits",
    "faq",
)  # fmt: skip


class WindowState(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


def closing_time(window: EnrollmentWindow) -> datetime:
    """When the window stops selling: closes_at, or earlier if an admin closed it."""
    if window.closed_at is not None and window.closed_at < window.closes_at:
        return window.closed_at
    return window.closes_at


def window_state(window: EnrollmentWindow, now: datetime) -> WindowState:
    """Windows are half-open: open at opens_at, closed at closing_time()."""
    if now >= closing_time(window):
        return WindowState.CLOSED
    if now < window.opens_at:
        return WindowState.UPCOMING
    return WindowState.OPEN


def _check_window_fields(
    *, name: str, price_fen: int, seats: int, opens_at: datetime, closes_at: datetime, term: int
) -> str:
    clean = " ".join(str(name).split())
    if not clean or len(clean) > 80:
        raise ValidationError("name", "must be 1 to 80 characters")
    for field, value, top in (
        ("price_fen", price_fen, MAX_PRICE_FEN),
        ("seats", seats, MAX_SEATS),
        ("term_days", term, 3660),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise ValidationError(field, f"must be a whole number from 1 to {top}")
    if closes_at <= opens_at:
        raise ValidationError("closes_at", "must be after opens_at")
    return clean


async def _check_no_overlap(opens_at: datetime, closes_at: datetime, *, except_id: int = 0) -> None:
    """At most one window sells at any moment."""
    for other in await EnrollmentWindow.filter(opens_at__lt=closes_at).exclude(id=except_id):
        if closing_time(other) > opens_at:
            raise WindowOverlap(f"The window “{other.name}” sells during that time.")


async def create_window(
    *,
    name: str,
    price_fen: int,
    seats: int,
    opens_at: datetime,
    closes_at: datetime,
    term_days: int = DEFAULT_TERM_DAYS,
    benefits: Sequence[str] = (),
    faq: Sequence[Question] = (),
    now: datetime,
    actor: User | None = None,
) -> EnrollmentWindow:
    """Create a window and its seats, with what its page promises (membership.benefits has
    the limits), and the audit entry "window.create" by `actor` (None: the command line or
    the demo) in the same transaction. Raises ValidationError or WindowOverlap."""
    clean = _check_window_fields(
        name=name,
        price_fen=price_fen,
        seats=seats,
        opens_at=opens_at,
        closes_at=closes_at,
        term=term_days,
    )
    if closes_at <= now:
        raise ValidationError("closes_at", "must be in the future")
    clean_benefits = check_benefits(benefits)
    clean_faq = check_faq(faq)
    await _check_no_overlap(opens_at, closes_at)
    async with in_transaction():
        window = await EnrollmentWindow.create(
            name=clean,
            price_fen=price_fen,
            seats=seats,
            opens_at=opens_at,
            closes_at=closes_at,
            term_days=term_days,
            benefits=clean_benefits,
            faq=[entry.as_json() for entry in clean_faq],
        )
        await Seat.bulk_create(
            [Seat(window_id=window.id, number=n) for n in range(1, seats + 1)], batch_size=1000
        )
        await audit.record(
            actor=actor,
            action="window.create",
            object_type="window",
            object_id=window.id,
            after=audit.snapshot(window, AUDITED_FIELDS),
            now=now,
        )
    await announce(WINDOW, window.id)
    return window


async def get_window(window_id: int) -> EnrollmentWindow:
    window = await EnrollmentWindow.get_or_none(id=window_id)
    if window is None:
        raise WindowNotFound()
    return window


async def update_window(
    window_id: int,
    *,
    now: datetime,
    name: str | None = None,
    price_fen: int | None = None,
    seats: int | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    term_days: int | None = None,
    benefits: Sequence[str] | None = None,
    faq: Sequence[Question] | None = None,
    actor: User | None = None,
) -> EnrollmentWindow:
    """Edit a window before it opens; once open, only extend its closing time. Its benefits
    and FAQ (None: unchanged) may change at any time, even once closed: they are what its
    page and its members' welcome say, not what it sells.

    The audit entry, by `actor` in the same transaction, holds only the fields that changed
    (none changed: no entry): "window.benefits" when only the benefits and FAQ were given,
    "window.update" otherwise.

    Raises WindowNotFound, WindowStarted, Closed, ValidationError, WindowOverlap.
    """
    window = await get_window(window_id)
    before = audit.snapshot(window, AUDITED_FIELDS)
    if benefits is not None:
        window.benefits = check_benefits(benefits)
    if faq is not None:
        window.faq = [entry.as_json() for entry in check_faq(faq)]
    schedule = (name, price_fen, seats, opens_at, closes_at, term_days)
    if all(value is None for value in schedule) and (benefits, faq) != (None, None):
        async with in_transaction():
            await window.save(update_fields=["benefits", "faq"])
            await _record_change(actor, "window.benefits", before, window, now=now)
        await announce(WINDOW, window.id)
        return window
    state = window_state(window, now)
    if state == WindowState.CLOSED:
        raise Closed("The window has closed; it can no longer be changed.")
    if state == WindowState.OPEN:
        changed = {
            "name": name,
            "price_fen": price_fen,
            "seats": seats,
            "opens_at": opens_at,
            "term_days": term_days,
        }
        if any(v is not None and v != getattr(window, k) for k, v in changed.items()):
            raise WindowStarted()
        if closes_at is not None and closes_at < window.closes_at:
            raise WindowStarted("An open window can be extended or closed, not shortened.")
    new_name = window.name if name is None else name
    new_price = window.price_fen if price_fen is None else price_fen
    new_seats = window.seats if seats is None else seats
    new_opens = window.opens_at if opens_at is None else opens_at
    new_closes = window.closes_at if closes_at is None else closes_at
    new_term = window.term_days if term_days is None else term_days
    clean = _check_window_fields(
        name=new_name,
        price_fen=new_price,
        seats=new_seats,
        opens_at=new_opens,
        closes_at=new_closes,
        term=new_term,
    )
    await _check_no_overlap(new_opens, new_closes, except_id=window.id)
    async with in_transaction():
        if new_seats > window.seats:
            await Seat.bulk_create(
                [
                    Seat(window_id=window.id, number=n)
                    for n in range(window.seats + 1, new_seats + 1)
                ]
            )
        elif new_seats < window.seats:  # before opening no seat is held: rows can go
            await Seat.filter(window_id=window.id, number__gt=new_seats).delete()
        window.name = clean
        window.price_fen = new_price
        window.seats = new_seats
        window.opens_at = new_opens
        window.closes_at = new_closes
        window.term_days = new_term
        await window.save()
        await _record_change(actor, "window.update", before, window, now=now)
    await announce(WINDOW, window.id)
    return window


async def _record_change(
    actor: User | None,
    action: str,
    before: dict[str, Any],
    window: EnrollmentWindow,
    *,
    now: datetime,
) -> None:
    """The audit entry of an edit: the fields that changed, if any did."""
    was, now_is = audit.changed(before, audit.snapshot(window, AUDITED_FIELDS))
    if now_is:
        await audit.record(
            actor=actor,
            action=action,
            object_type="window",
            object_id=window.id,
            before=was,
            after=now_is,
            now=now,
        )


async def close_window(
    window_id: int, *, now: datetime, actor: User | None = None
) -> EnrollmentWindow:
    """Stop selling now (an upcoming window is thereby canceled), with the audit entry
    "window.close" by `actor`. Holds already made may pay. Raises WindowNotFound, Closed."""
    window = await get_window(window_id)
    if window_state(window, now) == WindowState.CLOSED:
        raise Closed("The window is already closed.")
    before = audit.snapshot(window, ("closed_at",))
    window.closed_at = max(now, window.opens_at) if now >= window.opens_at else window.opens_at
    async with in_transaction():
        await window.save(update_fields=["closed_at"])
        await audit.record(
            actor=actor,
            action="window.close",
            object_type="window",
            object_id=window.id,
            before=before,
            after=audit.snapshot(window, ("closed_at",)),
            now=now,
        )
    await announce(WINDOW, window.id)
    return window


async def all_windows() -> list[EnrollmentWindow]:
    """Every window, the latest to open first (the admin's list)."""
    return await EnrollmentWindow.all().order_by("-opens_at")


async def current_window(*, now: datetime) -> EnrollmentWindow:
    """The open window; else the next upcoming one; else the last closed one. Raises NoWindow."""
    candidates = await EnrollmentWindow.filter(opens_at__lte=now, closes_at__gt=now)
    for window in candidates:
        if window_state(window, now) == WindowState.OPEN:
            return window
    upcoming = (
        await EnrollmentWindow.filter(opens_at__gt=now, closed_at__isnull=True)
        .order_by("opens_at")
        .first()
    )
    if upcoming is not None:
        return upcoming
    last = await EnrollmentWindow.filter(opens_at__lte=now).order_by("-opens_at").first()
    if last is None:
        raise NoWindow()
    return last


def _free_seats(window_id: int, now: datetime) -> Q:
    return Q(window_id=window_id, enrollment_id__isnull=True) & (
        Q(offer_until__isnull=True) | Q(offer_until__lte=now)
    )


async def seats_left(window: EnrollmentWindow, *, now: datetime) -> int:
    """Seats anyone may take now: not held, sold, or offered to someone on the waitlist."""
    return await Seat.filter(_free_seats(window.id, now)).count()


@dataclass(frozen=True)
class WindowStats:
    sold: int
    held: int
    free: int
    offered: int
    revenue_fen: int
    waitlist: int


async def window_stats(window: EnrollmentWindow, *, now: datetime) -> WindowStats:
    paid = await Enrollment.filter(window_id=window.id, status=EnrollmentStatus.PAID)
    held = await Enrollment.filter(
        window_id=window.id, status=EnrollmentStatus.PENDING_PAYMENT
    ).count()
    free = await seats_left(window, now=now)
    return WindowStats(
        sold=len(paid),
        held=held,
        free=free,
        offered=window.seats - len(paid) - held - free,
        revenue_fen=sum(e.amount_fen for e in paid),
        waitlist=await WaitlistEntry.filter(window_id=window.id, offered_at__isnull=True).count(),
    )
