"""Membership maintenance: holds expire with nobody visiting; reminders go out once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.models import Notification, User
from membership import grants, windows
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus
from membership.tasks import maintain
from payments import services as payments
from payments.models import Payment, PaymentStatus
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from settings import Settings
from tests.factories import card_payment_method, make_user, make_window


async def test_a_hold_stuck_in_3d_secure_is_canceled_and_its_seat_freed(
    provider: PaymentProvider, settings: Settings
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    buyer = await make_user()
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
    result = await membership.pay_enrollment(
        provider=provider,
        enrollment_id=enrollment.id,
        user=buyer,
        choice=PaymentChoice(
            payment_method=await card_payment_method(settings, "4000002500003155")
        ),
        now=now,
    )
    assert result.outcome == payments.Outcome.REQUIRES_ACTION

    assert (await maintain(provider, now=now + timedelta(minutes=5)))["holds_released"] == 0
    counts = await maintain(provider, now=now + timedelta(minutes=16))
    assert counts["holds_released"] == 1
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.EXPIRED
    assert (await Payment.get(id=result.payment.id)).status == PaymentStatus.FAILED
    assert await windows.seats_left(window, now=now + timedelta(minutes=16)) == 1


async def test_a_plain_expired_hold_is_released_by_the_task(provider: PaymentProvider) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    await membership.enroll(window_id=window.id, user=await make_user(), now=now)
    counts = await maintain(provider, now=now + timedelta(minutes=15))  # half-open: at expiry
    assert counts["holds_released"] == 1
    assert await windows.seats_left(window, now=now + timedelta(minutes=15)) == 1


async def test_renewal_reminders_are_sent_once_in_the_last_30_days(
    provider: PaymentProvider,
) -> None:
    now = datetime.now(UTC)
    admin = await make_user(admin=True)
    soon = await make_user()
    later = await make_user()
    await grants.grant_complimentary(user_id=soon.id, days=20, actor=admin, now=now)
    await grants.grant_complimentary(user_id=later.id, days=200, actor=admin, now=now)
    assert (await maintain(provider, now=now))["reminders_sent"] == 1
    assert (await maintain(provider, now=now + timedelta(days=1)))["reminders_sent"] == 0
    assert await Notification.filter(user_id=soon.id, kind="renewal_reminder").count() == 1
    assert await Notification.filter(user_id=later.id, kind="renewal_reminder").count() == 0
    assert (await User.get(id=soon.id)).member_until is not None


async def test_a_member_is_reminded_30_then_7_days_before_the_end_each_once(
    provider: PaymentProvider,
) -> None:
    """No wallet renews by itself: 30 days before the end a reminder, 7 days before a second,
    each once, each linking to the one-tap renewal page; a member first seen inside the last
    week gets the 7-day one alone, and a renewed membership (a new end) starts over."""
    now = datetime.now(UTC)
    admin = await make_user(admin=True)
    member = await make_user()
    late = await make_user()
    await grants.grant_complimentary(user_id=member.id, days=35, actor=admin, now=now)
    await grants.grant_complimentary(user_id=late.id, days=5, actor=admin, now=now)

    assert (await maintain(provider, now=now))["reminders_sent"] == 1  # late: its 7-day one
    for day, sent in ((6, 1), (7, 0), (20, 0), (28, 1), (29, 0), (34, 0)):
        counts = await maintain(provider, now=now + timedelta(days=day))
        assert counts["reminders_sent"] == sent, day
    reminders = await Notification.filter(user_id=member.id, kind="renewal_reminder")
    assert len(reminders) == 2
    assert {reminder.link for reminder in reminders} == {"/membership/renew"}
    assert await Notification.filter(user_id=late.id, kind="renewal_reminder").count() == 1

    # Renewed: a new end date, reminded about afresh when it comes near.
    await grants.grant_complimentary(user_id=member.id, days=365, actor=admin, now=now)
    assert (await maintain(provider, now=now + timedelta(days=34)))["reminders_sent"] == 0
    counts = await maintain(provider, now=now + timedelta(days=35 + 365 - 30))
    assert counts["reminders_sent"] == 1
