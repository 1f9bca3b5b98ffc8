"""What a membership payment does when it settles: the seat paid for, the membership granted.

register(purposes) hands them to an app's payments (composition.py calls it).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import notices
from accounts.models import User
from membership import grants, seats
from membership.models import (
    Enrollment,
    EnrollmentStatus,
    EnrollmentWindow,
    GrantSource,
    MembershipGrant,
)
from membership.services import PAYMENT_PURPOSE, return_seat
from membership.windows import WindowState, window_state
from payments import services as payments
from payments.models import Payment, PaymentStatus


def register(purposes: payments.Purposes) -> None:
    purposes.register(
        PAYMENT_PURPOSE,
        payments.PurposeHandlers(
            fulfil=fulfil,
            on_refused=on_refused,
            on_refunded=on_refunded,
            paying_page="membership.paying_page",
        ),
    )


async def fulfil(payment: Payment, now: datetime) -> payments.Fulfilment:
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
        await notices.notify(
            enrollment.user_id,  # type: ignore[attr-defined]
            kind="enrollment_paid_late",
            params={"window": window.name},
            link=links.path("membership.card_page"),
        )
    return payments.Fulfilment.FULFILLED


async def _seat_again(enrollment: Enrollment, window: EnrollmentWindow, *, now: datetime) -> bool:
    """Give a released enrollment a seat again and make it pending, all or nothing."""
    if window_state(window, now) != WindowState.OPEN:
        return False
    user = await User.get(id=enrollment.user_id)  # type: ignore[attr-defined]
    if not grants.may_enroll(user, at=now):
        return False
    key = seats.active_key(window, user)
    if await Enrollment.filter(active_key=key).exists():
        return False  # a seat of theirs (held or paid) is already in this window
    try:
        async with in_transaction():  # a savepoint: no free seat undoes it all
            await Enrollment.filter(id=enrollment.id, active_key__isnull=True).update(
                status=EnrollmentStatus.PENDING_PAYMENT, active_key=key
            )
            if not await seats.claim_seat(enrollment, window, user, now=now):
                raise _Undo()
    except (_Undo, IntegrityError):
        return False
    return True


class _Undo(Exception):
    """Rolls back the savepoint of a seat that could not be taken again."""


async def on_refused(payment: Payment) -> None:
    enrollment = await Enrollment.get_or_none(id=int(payment.subject_id))
    if enrollment is None:
        return
    window = await EnrollmentWindow.get(id=enrollment.window_id)  # type: ignore[attr-defined]
    await notices.notify(
        enrollment.user_id,  # type: ignore[attr-defined]
        kind="enrollment_refunded_late",
        params={"window": window.name},
        link=links.path("membership.window_page"),
    )


async def on_refunded(payment: Payment, amount_fen: int) -> None:
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
        await return_seat(enrollment, now=now)
