"""Payments' JSON API: a buyer looks at a payment (settling it after 3-D Secure); admins refund."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from payments import schemas, services
from payments.models import Payment, PaymentStatus
from web.api import iso, json_response, operation, read_json, read_query
from web.auth import api_user, staff_member, staff_only


def payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "purpose": payment.purpose,
        "subject_id": payment.subject_id,
        "amount_fen": payment.amount_fen,
        "currency": payment.currency,
        "status": payment.status.value,
        "method": payment.method.value,
        "refunded_fen": payment.refunded_fen,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "client_secret": (
            payment.client_secret if payment.status == PaymentStatus.REQUIRES_ACTION else None
        ),
        "created_at": iso(payment.created_at),
    }


@operation(
    "One of the caller's payments; an open one is first settled with the provider",
    answer=schemas.PaymentRecord,
    tag="payments",
    errors={404: "payment_not_found"},
)
async def get_payment(request: Request) -> Response:
    user = await api_user(request)
    payment = await services.payment_for_user(
        request.path_params["id"], user_id=user.id, may_read_any=user.may(Capability.PAYMENTS)
    )
    payment = await services.refresh_payment(
        request.app.state.payments_provider, payment.id, now=datetime.now(UTC)
    )
    return json_response(payment_json(payment))


@operation(
    "Refund part or the rest of a payment (admins)",
    body=schemas.Refund,
    answer=schemas.PaymentRecord,
    auth="admin",
    tag="payments",
    errors={
        404: "payment_not_found",
        409: "not_refundable",
        422: "refund_too_large",
        503: "payment_unavailable",
    },
)
@staff_only(Capability.REFUND)
async def refund_payment(request: Request) -> Response:
    data = await read_json(request, schemas.Refund)
    payment = await services.refund(
        provider=request.app.state.payments_provider,
        payment_id=request.path_params["id"],
        amount_fen=data.amount_fen,
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    return json_response(payment_json(payment))


@operation(
    "The latest payments, with how each was paid (admins)",
    query=schemas.PaymentsQuery,
    answer=schemas.PaymentList,
    auth="admin",
    tag="payments",
)
@staff_only(Capability.PAYMENTS)
async def list_payments(request: Request) -> Response:
    query = read_query(request, schemas.PaymentsQuery)
    found = await services.latest_payments(
        method=query.method or None, status=query.status or None, limit=query.limit
    )
    return json_response({"payments": [payment_json(payment) for payment in found]})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/payments", list_payments, methods=["GET"], name="payments.list_payments"),
        Route("/payments/{id:id}", get_payment, methods=["GET"], name="payments.get_payment"),
        Route(
            "/payments/{id:id}/refund",
            refund_payment,
            methods=["POST"],
            name="payments.refund_payment",
        ),
    ]
