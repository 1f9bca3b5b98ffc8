"""Payments' error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class PaymentsErrorCode(StrEnum):
    ALREADY_PAID = "already_paid"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    PAYMENT_UNAVAILABLE = "payment_unavailable"
    PAYMENT_NOT_FOUND = "payment_not_found"
    NOT_REFUNDABLE = "not_refundable"
    REFUND_TOO_LARGE = "refund_too_large"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_EVENT = "invalid_event"


class AlreadyPaid(DomainError):
    code = PaymentsErrorCode.ALREADY_PAID
    status = 409
    default_message = "This has already been paid for."


class PaymentInProgress(DomainError):
    code = PaymentsErrorCode.PAYMENT_IN_PROGRESS
    status = 409
    default_message = "A payment for this is already under way; wait a moment and look again."


class PaymentUnavailable(DomainError):
    code = PaymentsErrorCode.PAYMENT_UNAVAILABLE
    status = 503
    default_message = "The payment service is unavailable right now; please try again shortly."


class PaymentNotFound(DomainError):
    code = PaymentsErrorCode.PAYMENT_NOT_FOUND
    status = 404
    default_message = "No such payment."


class NotRefundable(DomainError):
    code = PaymentsErrorCode.NOT_REFUNDABLE
    status = 409
    default_message = "Only a successful payment can be refunded."


class RefundTooLarge(DomainError):
    code = PaymentsErrorCode.REFUND_TOO_LARGE
    status = 422
    default_message = "The refund is larger than what is left of the payment."


class InvalidSignature(DomainError):
    code = PaymentsErrorCode.INVALID_SIGNATURE
    status = 400
    default_message = "The webhook signature is missing or wrong."


class InvalidEvent(DomainError):
    """A correctly signed webhook event whose content is not what the provider documents."""

    code = PaymentsErrorCode.INVALID_EVENT
    status = 400
    default_message = "The event cannot be used."
