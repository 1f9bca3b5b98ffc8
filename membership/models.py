"""Membership's tables: enrollment windows and their seats, enrollments, waitlists, members."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class EnrollmentWindow(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=80)
    price_fen = fields.IntField()
    seats = fields.IntField()
    # Half-open: open from opens_at (inclusive) until closes_at (exclusive), or closed_at if an
    # admin closed it early.
    opens_at = fields.DatetimeField()
    closes_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    term_days = fields.IntField(default=365)
    # What the window's page promises (membership.benefits checks the limits): short lines,
    # and [{"question", "answer"}] pairs, in the order the admin wrote them.
    benefits: list[str] = fields.JSONField(default=list, db_default=[])
    faq: list[dict[str, str]] = fields.JSONField(default=list, db_default=[])
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership_window"

    def __str__(self) -> str:
        return self.name


class Seat(Model):
    """One row per seat, made with the window: holding a seat is claiming a free row.

    Invariant "never more members than seats": there are exactly `seats` rows per window and a
    row holds at most one enrollment (UNIQUE enrollment_id). Claiming uses SKIP LOCKED on
    PostgreSQL, so a rush of buyers spreads over rows instead of queueing on one counter.
    """

    id = fields.IntField(primary_key=True)
    window: fields.ForeignKeyRelation[EnrollmentWindow] = fields.ForeignKeyField(
        "membership.EnrollmentWindow", related_name="seat_rows", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    enrollment_id = fields.IntField(null=True, unique=True)
    # A seat that came back is offered to the first person on the waitlist until offer_until.
    offered_to_id = fields.IntField(null=True)
    offer_until = fields.DatetimeField(null=True)

    class Meta:
        table = "membership_seat"
        unique_together = (("window", "number"),)


class EnrollmentStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"  # holds a seat until hold_expires_at
    PAID = "paid"
    EXPIRED = "expired"  # the hold ran out before payment
    FAILED = "failed"  # the payment failed (before a failure kept the seat: older rows only)
    CANCELLED = "cancelled"  # the holder gave the seat back
    REFUNDED = "refunded"


class Enrollment(Model):
    id = fields.IntField(primary_key=True)
    window: fields.ForeignKeyRelation[EnrollmentWindow] = fields.ForeignKeyField(
        "membership.EnrollmentWindow", related_name="enrollments", on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="enrollments", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(
        EnrollmentStatus, max_length=20, default=EnrollmentStatus.PENDING_PAYMENT
    )
    # Invariant "one seat per person per window": "<window>:<user>" while pending or paid,
    # NULL otherwise; UNIQUE, so a double click cannot hold two seats.
    active_key = fields.CharField(max_length=40, null=True, unique=True)
    amount_fen = fields.IntField()
    hold_expires_at = fields.DatetimeField()
    payment_id = fields.IntField(null=True)
    paid_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership_enrollment"
        indexes = (("status", "hold_expires_at"),)


class WindowReminder(Model):
    """Someone who asked to be told when an upcoming window opens (membership.reminders)."""

    id = fields.IntField(primary_key=True)
    window: fields.ForeignKeyRelation[EnrollmentWindow] = fields.ForeignKeyField(
        "membership.EnrollmentWindow", related_name="reminders", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="window_reminders", on_delete=fields.CASCADE
    )
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "membership_window_reminder"
        unique_together = (("window", "user"),)


class WaitlistEntry(Model):
    id = fields.IntField(primary_key=True)
    window: fields.ForeignKeyRelation[EnrollmentWindow] = fields.ForeignKeyField(
        "membership.EnrollmentWindow", related_name="waitlist", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="waitlist_entries", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    # Set when a seat is offered to this person; an entry is offered at most once.
    offered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "membership_waitlist"
        unique_together = (("window", "user"),)


class Member(Model):
    """A person who has been a member: their card number is this row's id, kept for life."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "accounts.User", related_name="member", on_delete=fields.CASCADE
    )
    since = fields.DatetimeField()
    reminded_for_until = fields.DatetimeField(null=True)  # the valid-until last reminded about
    # Which renewal reminder (membership.grants.REMINDER_DAYS: 30 or 7 days before the end)
    # was last sent for reminded_for_until.
    reminded_days = fields.SmallIntField(null=True)

    class Meta:
        table = "membership_member"


class GrantSource(StrEnum):
    ENROLLMENT = "enrollment"
    COMPLIMENTARY = "complimentary"


class MembershipGrant(Model):
    """Each extension of someone's membership, so a refund or revoke can be undone exactly."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="membership_grants", on_delete=fields.CASCADE
    )
    source = fields.CharEnumField(GrantSource, max_length=20)
    enrollment_id = fields.IntField(null=True, unique=True)
    granted_by_id = fields.IntField(null=True)
    days = fields.IntField()
    previous_until = fields.DatetimeField(null=True)
    new_until = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership_grant"
        # Whether a person was a member on a day (stats): their grants, by how far they reach.
        indexes = (("user_id", "new_until"),)


class WindowMinute(Model):
    """Views of an enrollment window's page in one minute around its opening: the funnel's
    first step (membership.analytics; only minutes within tallies.FUNNEL_BEFORE/AFTER)."""

    id = fields.IntField(primary_key=True)
    window_id = fields.IntField()
    minute = fields.DatetimeField()
    views = fields.IntField(default=0)

    class Meta:
        table = "membership_window_minute"
        unique_together = (("window_id", "minute"),)
