"""Store's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError, ValidationError


class StoreErrorCode(StrEnum):
    SOLD_OUT = "sold_out"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    LIMIT_EXCEEDED = "limit_exceeded"
    ORDER_TOO_LARGE = "order_too_large"
    MEMBERS_ONLY = "members_only"
    PRODUCT_NOT_FOUND = "product_not_found"
    CATEGORY_NOT_FOUND = "category_not_found"
    ORDER_NOT_FOUND = "order_not_found"
    HOLD_EXPIRED = "hold_expired"
    ALREADY_PAID = "already_paid"
    BAD_ORDER_STATE = "bad_order_state"
    NOT_A_WINNER = "not_a_winner"
    NOT_A_RAFFLE = "not_a_raffle"
    RAFFLE_CLOSED = "raffle_closed"
    ADDRESS_REQUIRED = "address_required"
    REFUND_REQUESTED = "refund_requested"
    REFUND_REQUEST_NOT_FOUND = "refund_request_not_found"
    ADDRESS_NOT_FOUND = "address_not_found"
    PRODUCT_HAS_ORDERS = "product_has_orders"
    STOCK_BELOW_COMMITTED = "stock_below_committed"
    INVOICE_REQUESTED = "invoice_requested"
    ADDRESS_MISMATCH = "address_mismatch"
    INVOICE_NOT_FOUND = "invoice_not_found"


class SoldOut(DomainError):
    code = StoreErrorCode.SOLD_OUT
    status = 409
    default_message = "Sold out."

    def __init__(self, message: str | None = None, *, title: str | None = None) -> None:
        if title is None:
            super().__init__(message)
        else:  # translated before it is filled in: "“%(title)s”已售罄。"
            super().__init__(message or "“%(title)s” is sold out.", title=title)


class NotStarted(DomainError):
    code = StoreErrorCode.NOT_STARTED
    status = 409
    default_message = "The sale has not started yet."


class Ended(DomainError):
    code = StoreErrorCode.ENDED
    status = 409
    default_message = "The sale has ended."


class LimitExceeded(DomainError):
    code = StoreErrorCode.LIMIT_EXCEEDED
    status = 409
    default_message = "That is more than one customer may buy."


class OrderTooLarge(DomainError):
    code = StoreErrorCode.ORDER_TOO_LARGE
    status = 409
    default_message = "One order comes to 1 million yuan at most; split it into several."


class MembersOnly(DomainError):
    code = StoreErrorCode.MEMBERS_ONLY
    status = 403
    default_message = "Only members may buy this."


class ProductNotFound(DomainError):
    code = StoreErrorCode.PRODUCT_NOT_FOUND
    status = 404
    default_message = "No such product."


class CategoryNotFound(DomainError):
    code = StoreErrorCode.CATEGORY_NOT_FOUND
    status = 404
    default_message = "No such category."


class OrderNotFound(DomainError):
    code = StoreErrorCode.ORDER_NOT_FOUND
    status = 404
    default_message = "No such order."


class HoldExpired(DomainError):
    code = StoreErrorCode.HOLD_EXPIRED
    status = 409
    default_message = "The order's hold has expired; order again if stock is left."


class OrderPaid(DomainError):
    code = StoreErrorCode.ALREADY_PAID
    status = 409
    default_message = "This order is already paid."


class BadOrderState(DomainError):
    code = StoreErrorCode.BAD_ORDER_STATE
    status = 409
    default_message = "The order cannot go to that status from where it is."


class NotAWinner(DomainError):
    code = StoreErrorCode.NOT_A_WINNER
    status = 403
    default_message = "This drop is sold by raffle: only its winners may buy."


class NotARaffle(DomainError):
    code = StoreErrorCode.NOT_A_RAFFLE
    status = 409
    default_message = "This product is not sold by raffle."


class RaffleClosed(DomainError):
    code = StoreErrorCode.RAFFLE_CLOSED
    status = 409
    default_message = "Raffle entries are closed."


class AddressRequired(DomainError):
    code = StoreErrorCode.ADDRESS_REQUIRED
    status = 422
    default_message = "This order ships: give a shipping address to pay for it."


class RefundRequested(DomainError):
    code = StoreErrorCode.REFUND_REQUESTED
    status = 409
    default_message = "A refund for this order has been asked for already."


class RefundRequestNotFound(DomainError):
    code = StoreErrorCode.REFUND_REQUEST_NOT_FOUND
    status = 404
    default_message = "No such refund request, or it has been decided already."


class AddressNotFound(DomainError):
    code = StoreErrorCode.ADDRESS_NOT_FOUND
    status = 404
    default_message = "No such saved address."


class ProductHasOrders(DomainError):
    code = StoreErrorCode.PRODUCT_HAS_ORDERS
    status = 409
    default_message = "This product has orders (or its sale has opened): that cannot change now."


class StockBelowCommitted(DomainError):
    code = StoreErrorCode.STOCK_BELOW_COMMITTED
    status = 409
    default_message = "Only units neither sold nor held can be removed."


class InvoiceRequested(DomainError):
    code = StoreErrorCode.INVOICE_REQUESTED
    status = 409
    default_message = "An invoice was already asked for on this order."


class InvoiceNotFound(DomainError):
    code = StoreErrorCode.INVOICE_NOT_FOUND
    status = 404
    default_message = "No such invoice."


class AddressMismatch(ValidationError):
    """The province, city or district named is not the one the district code stands for."""

    code = StoreErrorCode.ADDRESS_MISMATCH
