"""Payments' tables: one Payment per attempt to pay for a thing, and the webhook events seen."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class PaymentStatus(StrEnum):
    PENDING = "pending"  # written before the provider is asked; the provider's answer pending
    REQUIRES_ACTION = "requires_action"  # the buyer's bank wants 3-D Secure in the browser
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # declined, canceled, expired, or never reached the provider
    REFUNDED = "refunded"  # succeeded, then refunded in full
    # Recorded as succeeded, but the provider, asked again by reconciliation, does not say so.
    # Shown to admins; nothing is reversed automatically (the thing stays delivered).
    DISPUTED = "disputed"


# Statuses that hold the thing's `active_key`: while one of these exists, no other payment for the
# same thing can start (see Payment.active_key).
HOLDING_STATUSES = (
    PaymentStatus.PENDING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.SUCCEEDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.DISPUTED,
)
OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


class PayMethod(StrEnum):
    """How the buyer pays (payments.provider.Method): a card, or a wallet."""

    CARD = "card"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"


class Settlement(StrEnum):
    """What became of a succeeded payment. Invariant "every succeeded payment ends fulfilled
    once or refunded, never neither, never both": it is set in the transaction that records
    the success (payments.services.settle_succeeded), and reconciliation repairs any succeeded
    payment that has none or is still REFUND_DUE."""

    FULFILLED = "fulfilled"  # the thing was delivered by this payment (order paid, seat taken)
    WAITING = "waiting"  # paid, and its purpose waits on something else (a group filling up)
    REFUND_DUE = "refund_due"  # the thing could not be delivered: the money goes back
    REFUNDED = "refunded"  # refunded in full automatically, the thing never delivered


class Payment(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="payments", on_delete=fields.RESTRICT
    )
    # What is paid for: a purpose registered by another package ("membership", "order") and
    # the id of the thing within it (an enrollment, an order).
    purpose = fields.CharField(max_length=40)
    subject_id = fields.CharField(max_length=64)
    amount_fen = fields.IntField()
    currency = fields.CharField(max_length=3, default="cny")
    status = fields.CharEnumField(PaymentStatus, max_length=20, default=PaymentStatus.PENDING)
    # Invariant "never charge twice for one thing": "<purpose>:<subject_id>" while the payment is
    # open, paid or refunded, NULL once it failed. UNIQUE (NULLs never collide), so of two
    # requests racing to pay for the same thing exactly one can insert its row.
    active_key = fields.CharField(max_length=120, null=True, unique=True)
    provider_intent_id = fields.CharField(max_length=100, null=True, unique=True)
    # The provider that took it (PaymentProvider.name: stripe, wechatpay, alipay): its reads,
    # closes and refunds go there, whatever the settings name for new payments later.
    provider = fields.CharField(max_length=20, default="stripe", db_default="stripe")
    client_secret = fields.CharField(max_length=200, null=True)
    method = fields.CharEnumField(PayMethod, max_length=20, default=PayMethod.CARD)
    # Where it is paid (payments.provider.Flow): card; WeChat Pay's native (a QR code), h5 (a
    # phone's browser opens WeChat) or jsapi (inside WeChat); Alipay's page or wap.
    flow = fields.CharField(max_length=10, default="card", db_default="card")
    # While a wallet payment waits for the buyer (requires_action): WeChat Pay's QR code data,
    # its h5_url, or its JSAPI parameters (JSON), or Alipay's redirect URL, the hosted
    # instructions page (WeChat Pay through Stripe), and when we stop offering it (never
    # after the hold of the thing paid for). Cleared once it settles.
    action_url = fields.CharField(max_length=2000, null=True)
    action_help_url = fields.CharField(max_length=2000, null=True)
    action_expires_at = fields.DatetimeField(null=True)
    # When the provider was last asked about this open payment for a page that polls it: a
    # wallet's waiting page asks at most every WALLET_ASK_EVERY (its webhook usually comes
    # first), so a crowd waiting on QR codes does not become a crowd of provider calls.
    asked_at = fields.DatetimeField(null=True)
    failure_code = fields.CharField(max_length=60, null=True)
    failure_message = fields.CharField(max_length=300, null=True)
    refunded_fen = fields.IntField(default=0)
    # Set in the same transaction that runs the purpose's fulfil: at most one fulfilment.
    fulfilled_at = fields.DatetimeField(null=True)
    # When the provider's own answer to a read (retrieve, confirm) last said this payment
    # succeeded; a success never so confirmed is read back by reconciliation (the first day).
    confirmed_at = fields.DatetimeField(null=True)
    # When it was first recorded as succeeded (payments.settle): the day its money counts in.
    succeeded_at = fields.DatetimeField(null=True, db_index=True)
    settlement = fields.CharEnumField(Settlement, max_length=20, null=True)
    # While a request is between asking the provider and recording its answer: until then a
    # second request for the same thing is told to wait (a double click), after it the open
    # payment may be settled with the provider by anyone (a retry, reconciliation).
    in_flight_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payments_payment"
        indexes = (("status", "updated_at"),)

    def __str__(self) -> str:
        return f"payment {self.id} ({self.purpose}:{self.subject_id}, {self.status})"

    @property
    def thing_key(self) -> str:
        return f"{self.purpose}:{self.subject_id}"


class WebhookEvent(Model):
    """Each provider event id is stored once: a replayed or duplicated delivery is ignored."""

    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=100, unique=True)
    type = fields.CharField(max_length=80)
    payment_id = fields.IntField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payments_webhook_event"


class Refund(Model):
    """Money given back on a payment, as the provider confirmed it: a staff refund (part or
    whole) or the automatic refund of a thing that could not be delivered. Written in the
    transaction that records the refund (payments.services.refund, payments.settle)."""

    id = fields.IntField(primary_key=True)
    payment_id = fields.IntField(db_index=True)
    amount_fen = fields.IntField()
    automatic = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "payments_refund"
