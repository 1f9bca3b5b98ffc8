"""A buyer's refund request, and an admin's decision on it.

A buyer asks for their money back on a paid (or shipped, or delivered) order, saying why. At most
one request per order is open at a time (RefundRequest.open_key, unique while undecided). An
admin approves it, which refunds the order in full through the one refund path
(staff_orders.refund_order: payments, then stock back while the drop runs), or refuses it
with a note. Either way the buyer is told (notices refund_approved / refund_refused). A
decision is taken once: the request is claimed by a guarded UPDATE before the money moves, so
two admins clicking at once refund once.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from errors import ValidationError
from payments.provider import PaymentProvider
from store.errors import BadOrderState, RefundRequested, RefundRequestNotFound
from store.models import Order, RefundRequest, RefundRequestStatus
from store.orders import SOLD_STATUSES, order_for_user
from store.staff_orders import refund_order

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


async def _claim(request_id: int, status: RefundRequestStatus, actor: User | None, now: datetime,
                 note: str = "") -> RefundRequest:  # fmt: skip
    claimed = await RefundRequest.filter(
        id=request_id, status=RefundRequestStatus.REQUESTED
    ).update(
        status=status,
        open_key=None,
        decided_by_id=actor.id if actor is not None else None,
        decided_at=now,
        note=note,
    )
    if not claimed:
        raise RefundRequestNotFound()
    return await RefundRequest.get(id=request_id).select_related("order")


async def approve(
    *, provider: PaymentProvider, request_id: int, actor: User | None, now: datetime
) -> RefundRequest:
    """Refund the order of a request. Raises RefundRequestNotFound (none open by that id) and
    what refund_order raises (then the request is open again, for another try).

    Audit: refund_order's own entry ("order.refund", or "order.refund_failed" when the
    provider refuses: then the request is reopened and nothing else is recorded), and once
    the money is back "refund_request.approve" (the request's status before and after). The
    provider's refund cannot share our transaction: see store.staff_orders.refund_order."""
    request = await _claim(request_id, RefundRequestStatus.APPROVED, actor, now)
    order = request.order
    try:
        await refund_order(provider=provider, order_id=order.id, now=now, actor=actor)
    except Exception:
        await RefundRequest.filter(id=request.id).update(
            status=RefundRequestStatus.REQUESTED, open_key=order.id, decided_by_id=None,
            decided_at=None,
        )  # fmt: skip
        raise
    async with in_transaction():
        await notices.notify(
            order.user_id,  # type: ignore[attr-defined]
            kind="refund_approved",
            params={"order": order.id},
            link=links.path("store.order_page", id=order.id),
            now=now,
        )
        await audit.record(
            actor=actor,
            action="refund_request.approve",
            object_type="refund_request",
            object_id=request.id,
            before={"status": RefundRequestStatus.REQUESTED},
            after={"status": RefundRequestStatus.APPROVED, "order": order.id},
            now=now,
        )
    return request


async def refuse(*, request_id: int, actor: User | None, note: str, now: datetime) -> RefundRequest:
    """Refuse a request, saying why. Audit: "refund_request.refuse" with the note. Raises
    RefundRequestNotFound, ValidationError("note")."""
    why = _clean(note, "note", MAX_NOTE, required=True)
    async with in_transaction():
        request = await _claim(request_id, RefundRequestStatus.REFUSED, actor, now, note=why)
        await audit.record(
            actor=actor,
            action="refund_request.refuse",
            object_type="refund_request",
            object_id=request.id,
            before={"status": RefundRequestStatus.REQUESTED},
            after={"status": RefundRequestStatus.REFUSED, "note": why},
            now=now,
        )
        await notices.notify(
            request.order.user_id,  # type: ignore[attr-defined]
            kind="refund_refused",
            params={"order": request.order.id, "note": why},
            link=links.path("store.order_page", id=request.order.id),
            now=now,
        )
    return request
