"""A buyer's refund request, and an admin's decision on it.

A buyer asks for their money back on a paid (or shipped, or delivered) order, saying why. At most
one request per order is open at a time (RefundRequest.open_key, unique while undecided). An
admin approves it, which refunds the order in full through the one refund path
(orders.refund_order: payments, then stock back while the drop runs), or refuses it with a note.
Either way the buyer is told (notices refund_approved / refund_refused). A decision is taken
once: the request is claimed by a guarded UPDATE before the money moves, so two admins clicking
at once refund once.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import notices
from accounts.models import User
from errors import ValidationError
from payments.provider import PaymentProvider
from store.errors import BadOrderState, RefundRequested, RefundRequestNotFound
from store.models import Order, RefundRequest, RefundRequestStatus
from store.orders import SOLD_STATUSES, order_for_user, refund_order

MAX_REASON = 500
MAX_NOTE = 300


def _clean(text: str, field: str, most: int, *, required: bool) -> str:
    cleaned = unicodedata.normalize("NFC", text).strip()
    if required and not cleaned:
        raise ValidationError(field, "is required")
    if len(cleaned) > most:
        raise ValidationError(field, f"must be at most {most} characters")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in cleaned):
        raise ValidationError(field, "must not contain control characters")
    return cleaned


async def ask(*, order_id: int, user: User, reason: str, now: datetime) -> RefundRequest:
    """Ask for a refund of one's own paid order. Raises OrderNotFound, BadOrderState (not paid),
    RefundRequested (one is open already), ValidationError("reason")."""
    why = _clean(reason, "reason", MAX_REASON, required=True)
    order = await order_for_user(order_id, user)
    if order.status not in SOLD_STATUSES:
        raise BadOrderState("Only a paid order can be refunded.")
    try:
        return await RefundRequest.create(
            order_id=order.id, reason=why, open_key=order.id, created_at=now
        )
    except IntegrityError:
        raise RefundRequested() from None


async def open_requests(*, limit: int = 100) -> list[RefundRequest]:
    """Requests waiting for an admin, oldest first, with their orders and buyers."""
    return (
        await RefundRequest.filter(status=RefundRequestStatus.REQUESTED)
        .order_by("id")
        .limit(limit)
        .select_related("order", "order__user")
    )


async def latest_for(order: Order) -> RefundRequest | None:
    return await RefundRequest.filter(order_id=order.id).order_by("-id").first()


async def _claim(request_id: int, status: RefundRequestStatus, admin: User, now: datetime,
                 note: str = "") -> RefundRequest:  # fmt: skip
    claimed = await RefundRequest.filter(
        id=request_id, status=RefundRequestStatus.REQUESTED
    ).update(status=status, open_key=None, decided_by_id=admin.id, decided_at=now, note=note)
    if not claimed:
        raise RefundRequestNotFound()
    return await RefundRequest.get(id=request_id).select_related("order")


async def approve(
    *, provider: PaymentProvider, request_id: int, admin: User, now: datetime
) -> RefundRequest:
    """Refund the order of a request. Raises RefundRequestNotFound (none open by that id) and
    what refund_order raises (then the request is open again, for another try)."""
    request = await _claim(request_id, RefundRequestStatus.APPROVED, admin, now)
    order = request.order
    try:
        await refund_order(provider=provider, order_id=order.id, now=now)
    except Exception:
        await RefundRequest.filter(id=request.id).update(
            status=RefundRequestStatus.REQUESTED, open_key=order.id, decided_by_id=None,
            decided_at=None,
        )  # fmt: skip
        raise
    await notices.notify(
        order.user_id,  # type: ignore[attr-defined]
        kind="refund_approved",
        params={"order": order.id},
        link=links.path("store.order_page", id=order.id),
        now=now,
    )
    return request


async def refuse(*, request_id: int, admin: User, note: str, now: datetime) -> RefundRequest:
    """Refuse a request, saying why. Raises RefundRequestNotFound, ValidationError("note")."""
    why = _clean(note, "note", MAX_NOTE, required=True)
    async with in_transaction():
        request = await _claim(request_id, RefundRequestStatus.REFUSED, admin, now, note=why)
        await notices.notify(
            request.order.user_id,  # type: ignore[attr-defined]
            kind="refund_refused",
            params={"order": request.order.id, "note": why},
            link=links.path("store.order_page", id=request.order.id),
            now=now,
        )
    return request
