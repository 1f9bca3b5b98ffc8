"""Referral rewards' tables: the reward rules, the append-only ledger, and payout requests."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NoReturn

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model
from tortoise.queryset import QuerySet

from accounts.models import User
from payments.models import Payment


class RuleAppliesTo(StrEnum):
    PRODUCT = "product"  # a store product (store.Product)
    WINDOW = "window"  # an enrollment window: the membership (membership.EnrollmentWindow)


class RewardKind(StrEnum):
    PERCENT = "percent"  # `value` percent of what was paid, rounded down to whole fen
    AMOUNT = "amount"  # `value` fen, never more than what was paid


class RewardRule(Model):
    """What the referrer of a paid purchase of one thing earns. Rules are never deleted (the
    ledger names the rule each credit came from); a new rule for the same thing retires the
    old one (referrals.reward_rules.set_rule)."""

    id = fields.IntField(primary_key=True)
    applies_kind = fields.CharEnumField(RuleAppliesTo, max_length=10)
    applies_id = fields.IntField()
    kind = fields.CharEnumField(RewardKind, max_length=10)
    value = fields.IntField()  # percent 1..100, or fen 1..MAX_REWARD_FEN
    # The reward only when the referred buyer is a member at the moment they pay.
    members_only = fields.BooleanField(default=False)
    # Invariant "one active rule per thing": "<applies_kind>:<applies_id>" while the rule is
    # active, NULL once retired. UNIQUE (NULLs never collide), so of two rules set for the
    # same thing at the same moment only one can be active.
    active_key = fields.CharField(max_length=40, null=True, unique=True)
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="reward_rules", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referrals_reward_rule"
        indexes = (("applies_kind", "applies_id"),)

    @property
    def active(self) -> bool:
        return self.active_key is not None


class EntryKind(StrEnum):
    CREDIT = "credit"  # a referred payment succeeded: > 0
    REVERSAL = "reversal"  # part or all of that payment was refunded: < 0
    PAYOUT = "payout"  # an approved payout, paid outside the app: < 0


class LedgerIsAppendOnly(RuntimeError):
    """Raised by any attempt to change or delete a ledger entry: a mistake is corrected by a
    new entry, never by editing an old one (the export for tax withholding must never change
    behind an accountant's back)."""


class _EntryQuerySet(QuerySet["LedgerEntry"]):
    """LedgerEntry's queries: reads, and nothing that changes rows already written."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise LedgerIsAppendOnly("ledger entries are never updated")

    def delete(self) -> NoReturn:
        raise LedgerIsAppendOnly("ledger entries are never deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerIsAppendOnly("ledger entries are never updated")


class _EntryManager(Manager):
    def get_queryset(self) -> _EntryQuerySet:
        return _EntryQuerySet(self._model)


class LedgerEntry(Model):
    """One movement of a referrer's reward money. Invariant "append-only": an entry is
    written once and never updated or deleted. Enforced in code here: save() of a stored
    entry, delete(), and the query set's update(), delete() and bulk_update() raise
    LedgerIsAppendOnly (the only writer, referrals.ledger, only inserts).

    `amount_fen` is signed: a credit > 0, a reversal and a payout < 0; a referrer's balance is
    the sum. `available_at` is when it counts as withdrawable: a credit's is the payment's
    success plus the refund period, its reversals carry the same one (so a refund inside the
    period comes off what is pending, after it off what is withdrawable), a payout's is its
    approval. `once_key` is UNIQUE: "credit:<payment>", "reversal:<payment>:<refunded fen>",
    "payout:<payout>", so however often the same event is reported, it is written once."""

    id = fields.IntField(primary_key=True)
    referrer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="referral_ledger", on_delete=fields.RESTRICT
    )
    referrer_id: int  # the foreign keys' columns, as Tortoise sets them (typed for mypy)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "payments.Payment", related_name="referral_entries", null=True, on_delete=fields.RESTRICT
    )
    payment_id: int | None
    rule: fields.ForeignKeyNullableRelation[RewardRule] = fields.ForeignKeyField(
        "referrals.RewardRule", related_name="entries", null=True, on_delete=fields.RESTRICT
    )
    rule_id: int | None
    kind = fields.CharEnumField(EntryKind, max_length=10)
    amount_fen = fields.IntField()
    available_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    once_key = fields.CharField(max_length=60, unique=True)
    note = fields.CharField(max_length=200, default="")

    class Meta:
        table = "referrals_ledger_entry"
        manager = _EntryManager()
        indexes = (
            ("referrer_id", "available_at"),  # a referrer's balance
            ("payment_id",),  # a payment's credit and reversals
            ("created_at",),  # the export of a year
        )

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self._saved_in_db:
            raise LedgerIsAppendOnly("ledger entries are never updated")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerIsAppendOnly("ledger entries are never deleted")


class PayoutStatus(StrEnum):
    REQUESTED = "requested"  # asked for: held out of what is withdrawable until decided
    APPROVED = "approved"  # paid outside the app; its ledger entry written with the approval
    REJECTED = "rejected"  # not paid: the amount is withdrawable again


class Payout(Model):
    """A referrer's request to be paid `amount_fen`, and the staff's decision. The money moves
    outside the app (a bank transfer, WeChat): this records that it did."""

    id = fields.IntField(primary_key=True)
    referrer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="referral_payouts", on_delete=fields.RESTRICT
    )
    referrer_id: int  # the foreign keys' columns, as Tortoise sets them (typed for mypy)
    amount_fen = fields.IntField()
    status = fields.CharEnumField(PayoutStatus, max_length=10, default=PayoutStatus.REQUESTED)
    requested_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User",
        related_name="referral_payouts_decided",
        null=True,
        on_delete=fields.RESTRICT,
    )
    decided_by_id: int | None

    class Meta:
        table = "referrals_payout"
        indexes = (("referrer_id", "status"), ("status", "requested_at"))


class SharedKind(StrEnum):
    """What a share link points at (referrals.share_links.SHARED says how each is read)."""

    FEED_ITEM = "feed_item"  # community.FeedItem
    POST = "post"  # community.Post, a board post
    PRODUCT = "product"  # store.Product, a drop too
    WINDOW = "window"  # membership.EnrollmentWindow


class Source(StrEnum):
    """How a visitor came through a share link: the dashboard's sources."""

    LINK = "link"  # the short link itself, copied and pasted or sent
    POSTER = "poster"  # the poster's QR code, scanned
    WECHAT = "wechat"  # the card WeChat's share shows (the JS-SDK's link)


class ShareLink(Model):
    """One person's short link to one thing: /s/<code>. The same person sharing the same thing
    again gets the same link (UNIQUE sharer, kind, object), so its numbers add up in one place.
    The code is random (referrals.share_links.new_code), never a row number."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=12, unique=True)
    sharer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="share_links", on_delete=fields.CASCADE
    )
    sharer_id: int
    object_type = fields.CharEnumField(SharedKind, max_length=10)
    object_id = fields.IntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "referrals_share_link"
        unique_together = (("sharer_id", "object_type", "object_id"),)


class LinkDay(Model):
    """Visits through one link on one Asia/Shanghai day from one source: counted in memory and
    written in batches (referrals.attribution.LINK_DAYS, tallies.flush)."""

    id = fields.IntField(primary_key=True)
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "referrals.ShareLink", related_name="days", on_delete=fields.CASCADE
    )
    day = fields.DateField()
    source = fields.CharField(max_length=10)
    visits = fields.IntField(default=0)

    class Meta:
        table = "referrals_link_day"
        unique_together = (("link_id", "day", "source"),)


class Touch(Model):
    """A signed-in person's referrer now: the last share link they came through (last touch),
    which names its sharer as their referrer until `touched_at` + the referral window
    (settings.referral_days). One row per person, replaced by their next visit."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "accounts.User", related_name="referral_touch", on_delete=fields.CASCADE, primary_key=True
    )
    user_id: int
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "referrals.ShareLink", related_name="touches", on_delete=fields.CASCADE
    )
    link_id: int
    # The link's sharer, kept here so that "who referred whom" is one read.
    referrer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="referral_touches_made", on_delete=fields.CASCADE
    )
    referrer_id: int
    source = fields.CharField(max_length=10)
    touched_at = fields.DatetimeField()

    class Meta:
        table = "referrals_touch"
        indexes = (("referrer_id",),)


class ReferredKind(StrEnum):
    SIGNUP = "signup"  # an account made after a visit through the link (subject: the user)
    ORDER = "order"  # a store order paid (subject: store.Order)
    ENROLLMENT = "enrollment"  # a membership enrollment paid (subject: membership.Enrollment)


class Referral(Model):
    """Who referred a sign-up, an order or an enrollment, and through which link: written once
    per thing (UNIQUE kind, subject), when the account is made or the purchase is paid. The
    referrer's numbers (sign-ups, paid) and the dashboard's funnel count these rows."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ReferredKind, max_length=10)
    subject_id = fields.IntField()
    referred: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="referrals_received", on_delete=fields.CASCADE
    )
    referred_id: int
    referrer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="referrals_made", on_delete=fields.CASCADE
    )
    referrer_id: int
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "referrals.ShareLink", related_name="referrals", on_delete=fields.CASCADE
    )
    link_id: int
    source = fields.CharField(max_length=10)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "payments.Payment", related_name="referrals", null=True, on_delete=fields.RESTRICT
    )
    payment_id: int | None
    amount_fen = fields.IntField(default=0)  # what was paid (0 for a sign-up)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referrals_referral"
        unique_together = (("kind", "subject_id"),)
        indexes = (("link_id", "kind"), ("referrer_id", "kind"), ("created_at",))
