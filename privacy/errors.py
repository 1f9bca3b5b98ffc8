"""Privacy's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError, RateLimited


class PrivacyErrorCode(StrEnum):
    EXPORT_TOO_SOON = "export_too_soon"
    EXPORT_NOT_FOUND = "export_not_found"
    EXPORT_EXPIRED = "export_expired"
    OPEN_ORDERS = "open_orders"


class ExportTooSoon(RateLimited):
    """A copy was asked for within the last hour: one an hour, each made from scratch (429
    with Retry-After)."""

    # Its own code, so a client tells it from other limits (the status and header are the same).
    code = PrivacyErrorCode.EXPORT_TOO_SOON  # type: ignore[assignment]
    default_message = "You asked for a copy of your data less than an hour ago; please wait."


class ExportNotFound(DomainError):
    """No copy behind this link for the person signed in (someone else's is not found)."""

    code = PrivacyErrorCode.EXPORT_NOT_FOUND
    status = 404
    default_message = "There is no copy of your data at this link."


class ExportExpired(DomainError):
    code = PrivacyErrorCode.EXPORT_EXPIRED
    status = 410
    default_message = "This link has expired and its copy is deleted: ask for a new one."


class OpenOrders(DomainError):
    """Leaving (注销) waits for the orders Shuyuan still owes the member (paid, not yet
    delivered or refunded): `orders` lists their numbers."""

    code = PrivacyErrorCode.OPEN_ORDERS
    status = 409
    default_message = (
        "Orders of yours are still on their way (%(numbers)s): once they are delivered, or "
        "refunded (ask customer service), you can cancel your account."
    )

    def __init__(self, order_ids: list[int]) -> None:
        super().__init__(
            numbers=", ".join(f"#{n}" for n in order_ids), orders=[str(n) for n in order_ids]
        )
