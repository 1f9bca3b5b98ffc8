"""Membership's rules: seat holds, paying for them, the waitlist; is_member for other packages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import notices
from accounts import services as accounts
from accounts.errors import Unauthorized
from accounts.models import User
from errors import DomainError
from membership import grants, seats, windows
from membership.errors import (
    AlreadyEnrolled,
    AlreadyMember,
    Closed,
    EnrollmentNotFound,
    EnrollmentPaid,
    HoldExpired,
    NotOpen,
    NoWindow,
    SeatsAvailable,
    SoldOut,
)

# The one membership check community/ and store/ use, offered here with the other services.
from membership.grants import is_member as is_member
from membership.grants import member_count as member_count
from membership.memory import SeatMemory
from membership.models import (
    Enrollment,
    EnrollmentStatus,
    EnrollmentWindow,
    Seat,
    WaitlistEntry,
)
from membership.seats import HOLD_FOR as HOLD_FOR
from membership.windows import (
    WindowState,
    closing_time,
    get_window,
    seats_left,
    window_state,
)
from payments import services as payments
from payments.errors import NotRefundable
from payments.held import Held, HeldState, pay_held
from payments.models import OPEN_STATUSES, Payment
from payments.provider import PaymentProvider

log = logging.getLogger(__name__)

PAYMENT_PURPOSE = "membership"
OFFER_FOR = timedelta(minutes=10)  # a returned seat waits this long for the next on the waitlist


async def enroll(
    *,
    window_id: int,
    user: User | str | None,
    now: datetime,
    memory: SeatMemory | None = None,
    engine: str | None = None,
) -> Enrollment:
    """Hold a seat in an open window for `user` for HOLD_FOR while they pay.

    `user` is a user, or a bearer token (the API): on PostgreSQL the seat statement finds its
    owner in the same round trip. One person holds at most one seat per window
    (Enrollment.active_key). A seat offered to the person from the waitlist is theirs first. A
    window this worker saw full within the last second is answered from `memory`. `engine`
    names the seat engine (membership.seats). Raises Unauthorized/SessionEnded, WindowNotFound,
    NotOpen, Closed, AlreadyMember, AlreadyEnrolled, SoldOut.
    """
    if user is None:
        raise Unauthorized()
    holder: User | str = accounts.token_digest(user) if isinstance(user, str) else user
    memory = memory if memory is not None else SeatMemory()
    try:
        window = await memory.window(window_id)
        state = window_state(window, now)
        if state == WindowState.UPCOMING:
            raise NotOpen()
        if state == WindowState.CLOSED:
            raise Closed()
    except DomainError:
        await _person(holder, now)  # a caller who is nobody hears that first
        raise
    enrollment = None
    if not memory.known_full(window):
        enrollment = await seats.hold_seat(window, holder, now, batch=memory.batch, engine=engine)
    if enrollment is None:
        person = await _person(holder, now)
        if not grants.may_enroll(person, at=now):
            raise AlreadyMember()
        if await Enrollment.filter(active_key=seats.active_key(window, person)).exists():
            raise AlreadyEnrolled()  # their own seat is the last one taken
        if memory.known_full(window):
            raise SoldOut()
        # Lazily give back holds that ran out (those with no payment under way), then try
        # once more.
        if await release_expired_holds(provider=None, now=now, window_id=window.id, memory=memory):
            enrollment = await seats.hold_seat(window, person, now, engine=engine)
        if enrollment is None:
            if not await Seat.filter(window_id=window.id, enrollment_id__isnull=True).exists():
                memory.remember_full(window)
            raise SoldOut()
    return enrollment


async def _person(holder: User | str, now: datetime) -> User:
    """The user, or the owner of the token digest. Raises Unauthorized, SessionEnded."""
    if isinstance(holder, User):
        return holder
    user = await accounts.user_for_token_digest(holder, now=now, consented=True)  # or raises
    if user is None:
        raise Unauthorized()
    return user


async def enrollment_for_user(enrollment_id: int, user: User) -> Enrollment:
    enrollment = await Enrollment.get_or_none(id=enrollment_id, user_id=user.id)
    if enrollment is None:
        raise EnrollmentNotFound()
    return enrollment


async def pay_enrollment(
    *,
    provider: PaymentProvider,
    enrollment_id: int,
    user: User,
    now: datetime,
    choice: payments.PaymentChoice,
) -> payments.PaymentResult:
    """Pay for a held seat. Raises EnrollmentNotFound, EnrollmentPaid, HoldExpired, and what
    payments.pay raises (ValidationError, PaymentInProgress, PaymentUnavailable)."""
    enrollment = await enrollment_for_user(enrollment_id, user)

    async def record(payment_id: int) -> None:
        await Enrollment.filter(id=enrollment.id).update(payment_id=payment_id)

    return await pay_held(
        provider=provider,
        held=held_seat(enrollment),
        choice=choice,
        now=now,
        paid=EnrollmentPaid,
        over=HoldExpired,
        record=record,
    )


def held_seat(enrollment: Enrollment) -> Held:
    """An enrollment, as the one checkout sees it (payments.held)."""
    state = {
        EnrollmentStatus.PENDING_PAYMENT: HeldState.PAYABLE,
        EnrollmentStatus.PAID: HeldState.PAID,
    }.get(enrollment.status, HeldState.OVER)
    return Held(
        purpose=PAYMENT_PURPOSE,
        subject_id=enrollment.id,
        buyer_id=enrollment.user_id,  # type: ignore[attr-defined]
        amount_fen=enrollment.amount_fen,
        hold_expires_at=enrollment.hold_expires_at,
        state=state,
        payment_id=enrollment.payment_id,
    )


async def release_expired_holds(
    *,
    provider: PaymentProvider | None,
    now: datetime,
    window_id: int | None = None,
    memory: SeatMemory | None = None,
) -> int:
    """Give back seats whose hold ran out unpaid; returns how many. A payment still under way
    for one is canceled at the provider first (if it turns out paid, the seat is kept; if the
    provider cannot say, the hold waits for the next round). Without a provider (a page that
    releases lazily), holds with a payment under way are left to the background job."""
    query = Enrollment.filter(status=EnrollmentStatus.PENDING_PAYMENT, hold_expires_at__lte=now)
    if window_id is not None:
        query = query.filter(window_id=window_id)
    released = 0
    for enrollment in await query:
        if provider is None:
            if await Payment.filter(
                active_key=f"{PAYMENT_PURPOSE}:{enrollment.id}", status__in=list(OPEN_STATUSES)
            ).exists():
                continue
        else:
            try:
                if await payments.close_before_release(
                    provider, purpose=PAYMENT_PURPOSE, subject_id=str(enrollment.id), now=now
                ):
                    continue
            except DomainError as exc:  # the provider cannot say yet
                log.info("enrollment %s: hold not released yet: %s", enrollment.id, exc.code)
                continue
        if await _end_enrollment(enrollment, EnrollmentStatus.EXPIRED, now=now, memory=memory):
            released += 1
    return released


async def cancel_enrollment(
    *,
    provider: PaymentProvider,
    enrollment_id: int,
    user: User,
    now: datetime,
    memory: SeatMemory | None = None,
) -> Enrollment:
    """The holder gives a held seat back: it returns at once (to the waitlist first). A payment
    under way for it is canceled at the provider first. Cancelling a cancelled enrollment
    changes nothing. Raises EnrollmentNotFound (someone else's), EnrollmentPaid, HoldExpired
    (it already ran out), PaymentUnavailable or PaymentInProgress."""
    enrollment = await enrollment_for_user(enrollment_id, user)
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return enrollment
    if enrollment.status in (EnrollmentStatus.PAID, EnrollmentStatus.REFUNDED):
        raise EnrollmentPaid()
    if enrollment.status != EnrollmentStatus.PENDING_PAYMENT:
        raise HoldExpired()
    if await payments.close_before_release(
        provider, purpose=PAYMENT_PURPOSE, subject_id=str(enrollment.id), now=now
    ):
        raise EnrollmentPaid()
    await _end_enrollment(enrollment, EnrollmentStatus.CANCELLED, now=now, memory=memory)
    enrollment = await Enrollment.get(id=enrollment.id)
    if enrollment.status == EnrollmentStatus.PAID:
        raise EnrollmentPaid()  # paid in the meantime
    return enrollment


async def _end_enrollment(
    enrollment: Enrollment, status: EnrollmentStatus, *, now: datetime, memory: SeatMemory | None
) -> bool:
    """Move a pending enrollment to expired/cancelled and give its seat back, once."""
    async with in_transaction():
        moved = await Enrollment.filter(
            id=enrollment.id, status=EnrollmentStatus.PENDING_PAYMENT
        ).update(status=status, active_key=None)
        if moved != 1:
            return False
        await return_seat(enrollment, now=now, memory=memory)
    return True


async def return_seat(
    enrollment: Enrollment, *, now: datetime, memory: SeatMemory | None = None
) -> None:
    """The enrollment's seat is free again: offered to the next on the waitlist first while
    the window is open."""
    seat = await Seat.get_or_none(enrollment_id=enrollment.id)
    if seat is None:
        return
    window = await EnrollmentWindow.get(id=enrollment.window_id)  # type: ignore[attr-defined]
    if memory is not None:
        memory.seat_came_back(window)
    seat.enrollment_id = None
    seat.offered_to_id = None
    seat.offer_until = None
    if window_state(window, now) == WindowState.OPEN:
        await _offer_to_waitlist(seat, window, now=now)
    await seat.save()


async def _offer_to_waitlist(seat: Seat, window: EnrollmentWindow, *, now: datetime) -> None:
    entry = (
        await WaitlistEntry.filter(window_id=window.id, offered_at__isnull=True)
        .order_by("id")
        .first()
    )
    if entry is None:
        return
    seat.offered_to_id = entry.user_id  # type: ignore[attr-defined]
    seat.offer_until = now + OFFER_FOR
    entry.offered_at = now
    await entry.save(update_fields=["offered_at"])
    await notices.notify(
        entry.user_id,  # type: ignore[attr-defined]
        kind="seat_offered",
        params={"window": window.name},
        link=links.path("membership.window_page"),
    )


async def expire_offers(*, now: datetime) -> int:
    """Seats offered from the waitlist but not claimed in time go to the next person, or to all."""
    done = 0
    for seat in await Seat.filter(enrollment_id__isnull=True, offer_until__lte=now):
        window = await EnrollmentWindow.get(id=seat.window_id)  # type: ignore[attr-defined]
        seat.offered_to_id = None
        seat.offer_until = None
        if window_state(window, now) == WindowState.OPEN:
            await _offer_to_waitlist(seat, window, now=now)
        await seat.save()
        done += 1
    return done


async def join_waitlist(*, window_id: int, user: User, now: datetime) -> int:
    """Queue for a seat that comes back; returns the 1-based position (again if already in).

    Raises WindowNotFound, NotOpen, Closed, AlreadyEnrolled, SeatsAvailable.
    """
    window = await get_window(window_id)
    state = window_state(window, now)
    if state == WindowState.UPCOMING:
        raise NotOpen()
    if state == WindowState.CLOSED:
        raise Closed()
    if await Enrollment.filter(active_key=seats.active_key(window, user)).exists():
        raise AlreadyEnrolled()
    entry = await WaitlistEntry.get_or_none(window_id=window.id, user_id=user.id)
    if entry is None:
        if await seats_left(window, now=now) > 0:
            raise SeatsAvailable()
        try:
            entry = await WaitlistEntry.create(window_id=window.id, user_id=user.id)
        except IntegrityError:
            entry = await WaitlistEntry.get(window_id=window.id, user_id=user.id)
    return await _place(entry)


async def _place(entry: WaitlistEntry) -> int:
    """An entry's 1-based place among those still waiting."""
    return await WaitlistEntry.filter(
        window_id=entry.window_id,  # type: ignore[attr-defined]
        offered_at__isnull=True,
        id__lte=entry.id,
    ).count()


async def waitlist_place(window_id: int, user: User | None) -> int | None:
    """Where `user` waits on the window's waitlist (1-based), or None if not waiting."""
    if user is None:
        return None
    entry = await WaitlistEntry.get_or_none(
        window_id=window_id, user_id=user.id, offered_at__isnull=True
    )
    return await _place(entry) if entry is not None else None


async def refund_enrollment(
    *,
    provider: PaymentProvider,
    enrollment_id: int,
    now: datetime,
    actor: User | None = None,
) -> Enrollment:
    """Refund a paid enrollment in full, asked by `actor`: the membership it gave ends and, if
    the window is still open, its seat goes back (to the waitlist first).

    The refund goes through payments.refund, which asks the provider first (outside any
    transaction) and then, in one transaction, records the payment refunded, ends the
    enrollment and its membership (membership.fulfilment.on_refunded) and writes the audit
    entry "enrollment.refund" (the payment's refunded_fen and status before and after). When
    the provider refuses or cannot be reached nothing changes but the entry
    "enrollment.refund_failed" with the error's code, and the error is raised.

    Raises EnrollmentNotFound, NotRefundable and what payments.refund raises."""
    enrollment = await Enrollment.get_or_none(id=enrollment_id)
    if enrollment is None:
        raise EnrollmentNotFound()
    if enrollment.status != EnrollmentStatus.PAID or enrollment.payment_id is None:
        raise NotRefundable("Only a paid enrollment can be refunded.")
    await payments.refund(
        provider=provider,
        payment_id=enrollment.payment_id,
        now=now,
        actor=actor,
        recorded_as=("enrollment", enrollment.id),
    )
    return await Enrollment.get(id=enrollment.id)


@dataclass(frozen=True)
class WindowView:
    """The enrollment page as one person sees it."""

    window: EnrollmentWindow | None
    state: WindowState | None
    closes_at: datetime | None
    seats_left: int
    enrollment: Enrollment | None  # their latest in this window
    is_member: bool
    renewal_due: bool  # a member who may renew now
    waitlist_place: int | None  # where they wait for a seat that comes back, if they do
    members: int  # how many people are members now (the page's social proof)


async def current_window(*, now: datetime, memory: SeatMemory | None = None) -> EnrollmentWindow:
    """The window that is open, else the next one, else the last one, after giving back its
    holds that ran out (those with no payment under way), so that its seats left are true for
    pages and API alike. Raises NoWindow."""
    window = await windows.current_window(now=now)
    await release_expired_holds(provider=None, now=now, window_id=window.id, memory=memory)
    return window


async def enrollments_in(window: EnrollmentWindow) -> list[Enrollment]:
    """Every enrollment of a window with its person, the newest first (the admin's list)."""
    return await Enrollment.filter(window_id=window.id).select_related("user").order_by("-id")


async def window_view(
    *, user: User | None, now: datetime, memory: SeatMemory | None = None
) -> WindowView:
    """The current window (see current_window) for `user` (None: a visitor)."""
    try:
        window: EnrollmentWindow | None = await current_window(now=now, memory=memory)
    except NoWindow:
        window = None
    enrollment = None
    if window is not None and user is not None:
        enrollment = (
            await Enrollment.filter(window_id=window.id, user_id=user.id).order_by("-id").first()
        )
    member = user is not None and is_member(user, at=now)
    return WindowView(
        window=window,
        state=window_state(window, now) if window is not None else None,
        closes_at=closing_time(window) if window is not None else None,
        seats_left=await seats_left(window, now=now) if window is not None else 0,
        enrollment=enrollment,
        is_member=member,
        renewal_due=member and user is not None and grants.renewal_due(user, at=now),
        waitlist_place=await waitlist_place(window.id, user) if window is not None else None,
        members=await member_count(at=now),
    )


@dataclass(frozen=True)
class RenewalView:
    """The one-tap renewal page (a renewal reminder links to it): the current window as
    window_view has it, the member's end date, and how they paid last time (offered first)."""

    view: WindowView
    member_until: datetime | None
    last_method: str | None

    @property
    def open(self) -> bool:
        return self.view.window is not None and self.view.state == WindowState.OPEN


async def renewal_view(
    *, user: User, now: datetime, memory: SeatMemory | None = None
) -> RenewalView:
    return RenewalView(
        view=await window_view(user=user, now=now, memory=memory),
        member_until=user.member_until,
        last_method=await payments.last_paid_with(user.id, PAYMENT_PURPOSE),
    )


async def renewal_seat(
    *, user: User, now: datetime, memory: SeatMemory | None = None
) -> Enrollment:
    """A seat to renew with: the one `user` holds already in the open window (a second tap,
    or a seat held from the window's page), else one held now (enroll: the window's cap, the
    one seat per person and renewal only in the last 30 days hold as for anyone). Raises
    NoWindow, and what enroll raises."""
    window = await current_window(now=now, memory=memory)
    held = await Enrollment.get_or_none(
        window_id=window.id, user_id=user.id, status=EnrollmentStatus.PENDING_PAYMENT
    )
    if held is not None and held.hold_expires_at > now:
        return held
    return await enroll(window_id=window.id, user=user, now=now, memory=memory)
