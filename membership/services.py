"""Membership's rules: seat holds, paying for them, the waitlist; is_member for other packages."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from accounts import services as accounts
from accounts.models import User
from errors import DomainError
from membership import grants
from membership.errors import (
    AlreadyEnrolled,
    AlreadyMember,
    Closed,
    EnrollmentNotFound,
    EnrollmentPaid,
    HoldExpired,
    NotOpen,
    SeatsAvailable,
    SoldOut,
)
from membership.grants import RENEWAL_REMINDER

# The one membership check community/ and store/ use, offered here with the other services.
from membership.grants import is_member as is_member
from membership.models import (
    Enrollment,
    EnrollmentStatus,
    EnrollmentWindow,
    GrantSource,
    MembershipGrant,
    Seat,
    WaitlistEntry,
)
from membership.windows import WindowState, get_window, seats_left, window_state
from payments import services as payments
from payments.models import OPEN_STATUSES, Payment, PaymentStatus
from payments.provider import StripeProvider

log = logging.getLogger(__name__)

PAYMENT_PURPOSE = "membership"
HOLD_FOR = timedelta(minutes=15)  # a seat is held this long while its holder pays
OFFER_FOR = timedelta(minutes=10)  # a returned seat waits this long for the next on the waitlist


async def enroll(*, window_id: int, user: User, now: datetime) -> Enrollment:
    """Hold a seat in an open window for `user` for HOLD_FOR while they pay.

    One person holds at most one seat per window (Enrollment.active_key). A seat offered to the
    person from the waitlist is theirs first. Raises WindowNotFound, NotOpen, Closed,
    AlreadyMember, AlreadyEnrolled, SoldOut.
    """
    window = await get_window(window_id)
    state = window_state(window, now)
    if state == WindowState.UPCOMING:
        raise NotOpen()
    if state == WindowState.CLOSED:
        raise Closed()
    # Members renew in their last RENEWAL_REMINDER (the new term starts where theirs ends);
    # earlier than that, a seat would go to someone who already has one.
    if user.member_until is not None and user.member_until > now + RENEWAL_REMINDER:
        raise AlreadyMember()
    enrollment = None if _known_full(window) else await _hold_seat(window, user, now)
    if enrollment is None:
        if await Enrollment.filter(active_key=f"{window.id}:{user.id}").exists():
            raise AlreadyEnrolled()  # their own seat is the last one taken
        if _known_full(window):
            raise SoldOut()
        # Lazily give back holds that ran out (those with no payment under way), then try
        # once more.
        if await release_expired_holds(provider=None, now=now, window_id=window.id):
            enrollment = await _hold_seat(window, user, now)
        if enrollment is None:
            if not await Seat.filter(window_id=window.id, enrollment_id__isnull=True).exists():
                _remember_full(window)
            raise SoldOut()
    return enrollment


# Windows this process saw with every seat held or sold, until a monotonic time: in a rush,
# most requests come after the last seat went, and they are answered without the database.
# A seat that comes back in another worker is seen here at most FULL_MEMORY_SECONDS later.
FULL_MEMORY_SECONDS = 1.0
_full_until: dict[tuple[int, float], float] = {}


def _window_key(window: EnrollmentWindow) -> tuple[int, float]:
    return (window.id, window.created_at.timestamp())


def _known_full(window: EnrollmentWindow) -> bool:
    return _full_until.get(_window_key(window), 0.0) > time.monotonic()


def _remember_full(window: EnrollmentWindow) -> None:
    _full_until[_window_key(window)] = time.monotonic() + FULL_MEMORY_SECONDS


def _forget_full(window: EnrollmentWindow) -> None:
    _full_until.pop(_window_key(window), None)


async def _hold_seat(window: EnrollmentWindow, user: User, now: datetime) -> Enrollment | None:
    try:
        return await _hold_seat_once(window, user, now)
    except _NoSeatLeft:
        return None


async def _hold_seat_once(window: EnrollmentWindow, user: User, now: datetime) -> Enrollment:
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        return await _hold_seat_postgres(window, user, now)
    async with in_transaction() as transaction:
        try:
            enrollment = await Enrollment.create(
                window_id=window.id,
                user_id=user.id,
                amount_fen=window.price_fen,
                hold_expires_at=now + HOLD_FOR,
                active_key=f"{window.id}:{user.id}",
            )
        except IntegrityError:
            raise AlreadyEnrolled() from None
        # Invariant "never more members than seats": claim one free seat row in one statement.
        count, rows = await transaction.execute_query(
            "UPDATE membership_seat SET enrollment_id = ?, offered_to_id = NULL, "
            "offer_until = NULL WHERE id = (SELECT id FROM membership_seat "
            "WHERE window_id = ? AND enrollment_id IS NULL AND (offer_until IS NULL "
            "OR offer_until <= ? OR offered_to_id = ?) "
            "ORDER BY CASE WHEN offered_to_id = ? THEN 0 ELSE 1 END, number "
            "LIMIT 1) AND enrollment_id IS NULL RETURNING id",
            [enrollment.id, window.id, now, user.id, user.id],
        )
        if not rows and count != 1:
            raise _NoSeatLeft()  # rolls the enrollment back with the transaction
        await WaitlistEntry.filter(window_id=window.id, user_id=user.id).delete()
    return enrollment


# Invariant "never more members than seats", in one statement: claim a free seat row for a new
# enrollment id, create the enrollment only if a row was claimed, and take the person off the
# waitlist. SKIP LOCKED lets concurrent buyers take different rows instead of queueing on one
# counter; the UNIQUE active_key makes a second seat for the same person fail the whole
# statement (nothing is claimed).
_HOLD_SEAT_POSTGRES = """
WITH seat AS (
    UPDATE membership_seat
    SET enrollment_id = nextval(pg_get_serial_sequence('membership_enrollment', 'id')),
        offered_to_id = NULL, offer_until = NULL
    WHERE id = (
        SELECT id FROM membership_seat
        WHERE window_id = $1 AND enrollment_id IS NULL
          AND (offer_until IS NULL OR offer_until <= $2 OR offered_to_id = $3)
        ORDER BY CASE WHEN offered_to_id = $3 THEN 0 ELSE 1 END, number
        LIMIT 1 FOR UPDATE SKIP LOCKED
    ) AND enrollment_id IS NULL
    RETURNING enrollment_id
), enrollment AS (
    INSERT INTO membership_enrollment
        (id, window_id, user_id, status, active_key, amount_fen, hold_expires_at, created_at)
    SELECT enrollment_id, $1, $3, 'pending_payment', $4, $5, $6, $2 FROM seat
    RETURNING id
), off_waitlist AS (
    DELETE FROM membership_waitlist
    WHERE window_id = $1 AND user_id = $3 AND EXISTS (SELECT 1 FROM enrollment)
)
SELECT id FROM enrollment
"""


async def _hold_seat_postgres(window: EnrollmentWindow, user: User, now: datetime) -> Enrollment:
    connection = connections.get("default")
    hold_expires_at = now + HOLD_FOR
    active_key = f"{window.id}:{user.id}"
    try:
        _, rows = await connection.execute_query(
            _HOLD_SEAT_POSTGRES,
            [window.id, now, user.id, active_key, window.price_fen, hold_expires_at],
        )
    except IntegrityError:
        raise AlreadyEnrolled() from None
    if not rows:
        raise _NoSeatLeft()
    enrollment = Enrollment(
        id=rows[0]["id"],
        window_id=window.id,
        user_id=user.id,
        status=EnrollmentStatus.PENDING_PAYMENT,
        active_key=active_key,
        amount_fen=window.price_fen,
        hold_expires_at=hold_expires_at,
        created_at=now,
    )
    enrollment._saved_in_db = True
    return enrollment


class _NoSeatLeft(Exception):
    pass


async def enrollment_for_user(enrollment_id: int, user: User) -> Enrollment:
    enrollment = await Enrollment.get_or_none(id=enrollment_id, user_id=user.id)
    if enrollment is None:
        raise EnrollmentNotFound()
    return enrollment


async def last_payment_failure(enrollment: Enrollment) -> str | None:
    """Why the enrollment's latest payment failed, if it did (the seat stays held meanwhile)."""
    if enrollment.payment_id is None:
        return None
    payment = await Payment.get_or_none(id=enrollment.payment_id)
    if payment is None or payment.status != PaymentStatus.FAILED:
        return None
    return payment.failure_message or "The payment failed."


async def pay_enrollment(
    *,
    provider: StripeProvider,
    enrollment_id: int,
    user: User,
    payment_method: str,
    now: datetime,
) -> payments.PaymentResult:
    """Pay for a held seat. Raises EnrollmentNotFound, EnrollmentPaid, HoldExpired, and what
    payments.pay raises (ValidationError, PaymentInProgress, PaymentUnavailable)."""
    enrollment = await enrollment_for_user(enrollment_id, user)
    if enrollment.status == EnrollmentStatus.PAID:
        raise EnrollmentPaid()
    if enrollment.status != EnrollmentStatus.PENDING_PAYMENT or enrollment.hold_expires_at <= now:
        raise HoldExpired()
    result = await payments.pay(
        provider=provider,
        user_id=user.id,
        purpose=PAYMENT_PURPOSE,
        subject_id=str(enrollment.id),
        amount_fen=enrollment.amount_fen,
        payment_method=payment_method,
        now=now,
    )
    await Enrollment.filter(id=enrollment.id).update(payment_id=result.payment.id)
    return result


async def release_expired_holds(
    *, provider: StripeProvider | None, now: datetime, window_id: int | None = None
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
        if await _end_enrollment(enrollment, EnrollmentStatus.EXPIRED, now=now):
            released += 1
    return released


async def cancel_enrollment(
    *, provider: StripeProvider, enrollment_id: int, user: User, now: datetime
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
    await _end_enrollment(enrollment, EnrollmentStatus.CANCELLED, now=now)
    enrollment = await Enrollment.get(id=enrollment.id)
    if enrollment.status == EnrollmentStatus.PAID:
        raise EnrollmentPaid()  # paid in the meantime
    return enrollment


async def _end_enrollment(
    enrollment: Enrollment, status: EnrollmentStatus, *, now: datetime
) -> bool:
    """Move a pending enrollment to expired/cancelled and give its seat back, once."""
    async with in_transaction():
        moved = await Enrollment.filter(
            id=enrollment.id, status=EnrollmentStatus.PENDING_PAYMENT
        ).update(status=status, active_key=None)
        if moved != 1:
            return False
        await _return_seat(enrollment, now=now)
    return True


async def _return_seat(enrollment: Enrollment, *, now: datetime) -> None:
    seat = await Seat.get_or_none(enrollment_id=enrollment.id)
    if seat is None:
        return
    window = await EnrollmentWindow.get(id=enrollment.window_id)  # type: ignore[attr-defined]
    _forget_full(window)
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
    await accounts.notify(
        entry.user_id,  # type: ignore[attr-defined]
        kind="seat_offered",
        message=f"“{window.name}”有一个席位为你保留 10 分钟，请尽快报名。"
        f" A seat in “{window.name}” is yours for 10 minutes: enroll now.",
        link="/membership",
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
    if await Enrollment.filter(active_key=f"{window.id}:{user.id}").exists():
        raise AlreadyEnrolled()
    entry = await WaitlistEntry.get_or_none(window_id=window.id, user_id=user.id)
    if entry is None:
        if await seats_left(window, now=now) > 0:
            raise SeatsAvailable()
        try:
            entry = await WaitlistEntry.create(window_id=window.id, user_id=user.id)
        except IntegrityError:
            entry = await WaitlistEntry.get(window_id=window.id, user_id=user.id)
    return await WaitlistEntry.filter(
        window_id=window.id, offered_at__isnull=True, id__lte=entry.id
    ).count()


async def _fulfil(payment: Payment, now: datetime) -> payments.Fulfilment:
    """The seat of a succeeded payment is paid for and the membership granted. An enrollment
    released meanwhile (its hold expired, its holder cancelled) takes a seat again if the
    window is still open, a free seat is there and the person holds no other; otherwise the
    payment is refused and refunded. The person is told which of the two happened."""
    late = False
    for _ in range(3):  # a release racing with this settlement is seen on the next look
        enrollment = await Enrollment.get_or_none(id=int(payment.subject_id))
        if enrollment is None:
            return payments.Fulfilment.REFUSED
        window = await EnrollmentWindow.get(id=enrollment.window_id)  # type: ignore[attr-defined]
        if enrollment.status in (EnrollmentStatus.PAID, EnrollmentStatus.REFUNDED):
            paid_by_this = enrollment.payment_id == payment.id
            return payments.Fulfilment.FULFILLED if paid_by_this else payments.Fulfilment.REFUSED
        if enrollment.status != EnrollmentStatus.PENDING_PAYMENT:
            if not await _seat_again(enrollment, window, now=now):
                return payments.Fulfilment.REFUSED
            late = True
        moved = await Enrollment.filter(
            id=enrollment.id, status=EnrollmentStatus.PENDING_PAYMENT
        ).update(status=EnrollmentStatus.PAID, paid_at=now, payment_id=payment.id)
        if moved == 1:
            break
    else:
        return payments.Fulfilment.REFUSED
    await grants.extend_membership(
        user_id=enrollment.user_id,  # type: ignore[attr-defined]
        days=window.term_days,
        source=GrantSource.ENROLLMENT,
        enrollment_id=enrollment.id,
        now=now,
    )
    if late:
        await accounts.notify(
            enrollment.user_id,  # type: ignore[attr-defined]
            kind="enrollment_paid_late",
            message=f"你为“{window.name}”的付款在席位释放后才到账；仍有空位，席位已为你保留，"
            f"会员资格已生效。 Your payment for “{window.name}” arrived after the seat was"
            " released; a seat was still free, so it is yours and your membership is active.",
            link="/membership/card",
        )
    return payments.Fulfilment.FULFILLED


async def _seat_again(enrollment: Enrollment, window: EnrollmentWindow, *, now: datetime) -> bool:
    """Give a released enrollment a seat again and make it pending, all or nothing."""
    if window_state(window, now) != WindowState.OPEN:
        return False
    user = await User.get(id=enrollment.user_id)  # type: ignore[attr-defined]
    if user.member_until is not None and user.member_until > now + RENEWAL_REMINDER:
        return False
    key = f"{window.id}:{user.id}"
    if await Enrollment.filter(active_key=key).exists():
        return False  # a seat of theirs (held or paid) is already in this window
    try:
        await _claim_seat_again(enrollment, window, key, user, now=now)
    except _Undo:
        return False
    return True


async def _claim_seat_again(
    enrollment: Enrollment, window: EnrollmentWindow, key: str, user: User, *, now: datetime
) -> None:
    async with in_transaction():  # a savepoint: no free seat undoes it all
        await Enrollment.filter(id=enrollment.id, active_key__isnull=True).update(
            status=EnrollmentStatus.PENDING_PAYMENT, active_key=key
        )
        # Invariant "never more members than seats": claim a free seat row, conditionally.
        seat = (
            await Seat.filter(window_id=window.id, enrollment_id__isnull=True)
            .filter(
                Q(offer_until__isnull=True) | Q(offer_until__lte=now) | Q(offered_to_id=user.id)
            )
            .order_by("number")
            .first()
        )
        claimed = seat is not None and bool(
            await Seat.filter(id=seat.id, enrollment_id__isnull=True).update(
                enrollment_id=enrollment.id, offered_to_id=None, offer_until=None
            )
        )
        if not claimed:
            raise _Undo()


class _Undo(Exception):
    """Rolls back the savepoint of a seat that could not be taken again."""


async def _on_payment_refused(payment: Payment) -> None:
    enrollment = await Enrollment.get_or_none(id=int(payment.subject_id))
    if enrollment is None:
        return
    window = await EnrollmentWindow.get(id=enrollment.window_id)  # type: ignore[attr-defined]
    await accounts.notify(
        enrollment.user_id,  # type: ignore[attr-defined]
        kind="enrollment_refunded_late",
        message=f"你为“{window.name}”的付款在席位释放后才到账，已无空位，款项已全额退回。"
        f" Your payment for “{window.name}” arrived after the seat was released and no seat"
        " was left; the money has been refunded in full.",
        link="/membership",
    )


async def _on_payment_refunded(payment: Payment, amount_fen: int) -> None:
    if payment.status != PaymentStatus.REFUNDED:
        return  # a partial refund is a goodwill gesture: the membership stays
    enrollment = await Enrollment.get_or_none(id=int(payment.subject_id))
    if enrollment is None or enrollment.status != EnrollmentStatus.PAID:
        return
    now = payment.updated_at
    async with in_transaction():
        moved = await Enrollment.filter(id=enrollment.id, status=EnrollmentStatus.PAID).update(
            status=EnrollmentStatus.REFUNDED, active_key=None
        )
        if moved != 1:
            return
        grant = await MembershipGrant.get_or_none(enrollment_id=enrollment.id, revoked_at=None)
        if grant is not None:
            await grants.undo_grant(grant, now=now)
        await _return_seat(enrollment, now=now)


payments.register_purpose(
    PAYMENT_PURPOSE,
    payments.PurposeHandlers(
        fulfil=_fulfil, on_refused=_on_payment_refused, on_refunded=_on_payment_refunded
    ),
)


async def refund_enrollment(
    *, provider: StripeProvider, enrollment_id: int, now: datetime
) -> Enrollment:
    """Refund a paid enrollment in full: the membership it gave ends and, if the window is
    still open, its seat goes back (to the waitlist first). Raises EnrollmentNotFound and what
    payments.refund raises."""
    enrollment = await Enrollment.get_or_none(id=enrollment_id)
    if enrollment is None or enrollment.payment_id is None:
        raise EnrollmentNotFound()
    await payments.refund(provider=provider, payment_id=enrollment.payment_id, now=now)
    return await Enrollment.get(id=enrollment.id)
