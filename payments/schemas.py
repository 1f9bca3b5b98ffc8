"""The payments API's declared shapes: how a client pays for a thing, and what it hears back."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from payments.models import PaymentStatus
from payments.services import MAX_AMOUNT_FEN, PAYMENT_METHOD_PATTERN
from web.api import Answer, Body, whole

PaymentMethodId = Annotated[
    str,
    msgspec.Meta(
        pattern=PAYMENT_METHOD_PATTERN,
        max_length=99,
        description="a PaymentMethod id made by Stripe.js (pm_...)",
    ),
]


class PaymentChoice(Body):
    payment_method: PaymentMethodId


class PaymentAnswer(Answer):
    """The answer to "pay for this"; the final status comes from the order or enrollment."""

    status: Literal["paid", "requires_action", "failed"]
    payment_id: int
    client_secret: str | None
    reason: str | None  # why it failed, in the caller's language
    reason_code: str | None  # the same as a code (card_declined, insufficient_funds, ...)


class Refund(Body):
    amount_fen: (
        Annotated[int, whole(1, MAX_AMOUNT_FEN, description="fen to refund; the rest if left out")]
        | None
    ) = None


class PaymentRecord(Answer):
    id: int
    purpose: str
    subject_id: str
    amount_fen: int
    currency: str
    status: PaymentStatus
    refunded_fen: int
    failure_code: str | None
    failure_message: str | None
    client_secret: str | None
    created_at: str
