"""Memberships granted, extended, revoked; the member card and renewal reminders."""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts import services as accounts
from accounts.models import User
from errors import ValidationError
from membership.errors import (
    NotAMember,
    UserNotFound,
)
from membership.models import (
    GrantSource,
    Member,
    MembershipGrant,
)

RENEWAL_REMINDER = timedelta(days=30)
# Renewal reminders go out this many days before a membership ends (send_renewal_reminders).
REMINDER_DAYS = (30, 7)


def renewal_due(user: User, *, at: datetime) -> bool:
    """Whether `user` may renew now: a member whose membership ends within RENEWAL_REMINDER
    (the new term starts where theirs ends), or anyone whose membership has ended. The
    reminders, the pages' "renew" notice and enrollment all ask this."""
    return user.member_until is not None and user.member_until <= renewal_from(at)


def renewal_from(at: datetime) -> datetime:
    """A membership that ends no later than this may be renewed at `at` (renewal_due; the
    seat statement membership/sql/hold_seat.sql is given this instant and asks the same)."""
    return at + RENEWAL_REMINDER


def may_enroll(user: User, *, at: datetime) -> bool:
    """Whether a seat may go to `user`: not a member, or a member whose renewal is due
    (earlier than that, a seat would go to someone who already has one)."""
    return user.member_until is None or renewal_due(user, at=at)


async def extend_membership(
    *,
    user_id: int,
    days: int,
    source: GrantSource,
    now: datetime,
    enrollment_id: int | None = None,
    granted_by_id: int | None = None,
) -> MembershipGrant:
    """Extend someone's membership by `days` from now, or from its end if still valid."""
    user = await User.get(id=user_id)
    start = user.member_until if user.member_until and user.member_until > now else now
    new_until = start + timedelta(days=days)
    grant = await MembershipGrant.create(
        user_id=user_id,
        source=source,
        enrollment_id=enrollment_id,
        granted_by_id=granted_by_id,
        days=days,
        previous_until=user.member_until,
        new_until=new_until,
    )
    await User.filter(id=user_id).update(member_until=new_until)
    await Member.get_or_create(user_id=user_id, defaults={"since": now})
    await notices.notify(
        user_id,
        kind="membership_granted",
        params={"date": _shanghai_date(new_until)},
        link=links.path("membership.card_page"),
    )
    return grant


async def undo_grant(grant: MembershipGrant, *, now: datetime) -> None:
    user = await User.get(id=grant.user_id)  # type: ignore[attr-defined]
    if user.member_until is not None:
        shortened = user.member_until - timedelta(days=grant.days)
        await User.filter(id=user.id).update(member_until=max(shortened, now))
    grant.revoked_at = now
    await grant.save(update_fields=["revoked_at"])


def _shanghai_date(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")


async def grant_complimentary(
    *, user_id: int, days: int, now: datetime, actor: User | None = None
) -> User:
    """A gift of `days` of membership outside any window from `actor` (None: the command
    line or the demo), recorded as a grant and as the audit entry "member.grant" (the
    person's member_until before and after) in one transaction. Raises ValidationError
    ("days"), UserNotFound."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
        raise ValidationError("days", "must be a whole number from 1 to 3660")
    if not await User.filter(id=user_id).exists():
        raise UserNotFound()
    async with in_transaction():
        grant = await extend_membership(
            user_id=user_id,
            days=days,
            source=GrantSource.COMPLIMENTARY,
            granted_by_id=actor.id if actor is not None else None,
            now=now,
        )
        await audit.record(
            actor=actor,
            action="member.grant",
            object_type="user",
            object_id=user_id,
            before={"member_until": grant.previous_until},
            after={"member_until": grant.new_until, "days": days, "source": grant.source},
            now=now,
        )
    return await User.get(id=user_id)


async def user_named(who: str) -> User:
    """The person an admin names by account number or email. Raises ValidationError("who")
    (a form's field: the admin typed someone who is not there)."""
    text = who.strip()
    if text.isdigit() and len(text) <= 10:
        user = await User.get_or_none(id=int(text)) if int(text) < 2**31 else None
    else:
        user = await User.get_or_none(email=accounts.normalize_email(text)) if text else None
    if user is None:
        raise ValidationError("who", "no such user: give an account number or an email")
    return user


async def revoke_membership(*, user_id: int, now: datetime, actor: User | None = None) -> User:
    """End someone's membership now (their paid enrollments are not refunded by this), with
    the audit entry "member.revoke" by `actor` (member_until before and after) in the same
    transaction. Raises UserNotFound, NotAMember."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise UserNotFound()
    if not is_member(user, at=now):
        raise NotAMember()
    async with in_transaction():
        await User.filter(id=user_id).update(member_until=now)
        await MembershipGrant.filter(user_id=user_id, revoked_at=None, new_until__gt=now).update(
            revoked_at=now
        )
        await audit.record(
            actor=actor,
            action="member.revoke",
            object_type="user",
            object_id=user_id,
            before={"member_until": user.member_until},
            after={"member_until": now},
            now=now,
        )
    return await User.get(id=user_id)


async def member_for(user: User) -> Member | None:
    return await Member.get_or_none(user_id=user.id)


async def send_renewal_reminders(*, now: datetime) -> int:
    """Tell members whose membership ends soon, in the inbox and by mail, 30 days before its
    end and again 7 days before (REMINDER_DAYS), each once per valid-until date, with a link
    to the one-tap renewal page. Nothing renews by itself: WeChat Pay and Alipay take no
    subscription without a separate deduction contract with each (docs/alipay.md), and a
    membership is bought in its yearly window like any other. A member first seen inside
    the last 7 days gets the 7-day reminder alone."""
    sent = 0
    # Members still valid whose renewal is due (renewal_due, as a query).
    soon = await User.filter(member_until__gt=now, member_until__lte=now + RENEWAL_REMINDER)
    for user in soon:
        assert user.member_until is not None
        days = min(d for d in REMINDER_DAYS if user.member_until <= now + timedelta(days=d))
        member = await Member.get_or_none(user_id=user.id)
        if member is None:
            continue
        # Invariant "each reminder once per valid-until": the conditional UPDATE takes it, so
        # two rounds running at once (two workers) send it once.
        taken = (
            await Member.filter(id=member.id)
            .filter(
                Q(reminded_for_until__isnull=True)
                | ~Q(reminded_for_until=user.member_until)
                | Q(reminded_days__isnull=True)
                | Q(reminded_days__gt=days)
            )
            .update(reminded_for_until=user.member_until, reminded_days=days)
        )
        if not taken:
            continue
        await notices.notify(
            user.id,
            kind="renewal_reminder",
            params={"date": _shanghai_date(user.member_until)},
            link=links.path("membership.renew_page"),
        )
        sent += 1
    return sent


_CARD_SALT = "shuyuan.membership-card"


def card_token(member: Member, *, secret_key: str) -> str:
    """The signed token a member card's QR code carries; it names only the card number."""
    return URLSafeSerializer(secret_key, salt=_CARD_SALT).dumps(member.id)


async def verify_card(token: str, *, secret_key: str, now: datetime) -> bool:
    """Whether a card token is genuine and its holder a member at `now`; nothing more."""
    try:
        member_id = URLSafeSerializer(secret_key, salt=_CARD_SALT).loads(token)
    except BadSignature:
        return False
    if not isinstance(member_id, int):
        return False
    member = await Member.get_or_none(id=member_id).select_related("user")
    return member is not None and is_member(member.user, at=now)


def is_member(user: User, *, at: datetime) -> bool:
    """The one membership check every package uses: valid until strictly after `at`."""
    return user.member_until is not None and user.member_until > at


async def member_count(*, at: datetime) -> int:
    """How many people are members at `at` (is_member's rule, counted in the database)."""
    return await User.filter(member_until__gt=at).count()
