"""The console's orders (/admin/orders): orders by status, shipping them, refunds and the
requests for them, and the orders CSV. Support reads here; shipping needs Capability.FULFIL,
refunds REFUND and the CSV EXPORT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from store import carriers, invoices, schemas, services
from store.models import OrderStatus
from web.auth import refuse_cross_site, staff_member, staff_only
from web.csrf import read_form
from web.decoding import read_query
from web.forms import csv_download
from web.rendering import SHANGHAI, flash, gettext_for, on_error_back, redirect_after_post, render

ORDER_COLUMNS: Sequence[str] = (
    "order", "status", "total_yuan", "email", "ship_name", "ship_phone", "ship_province",
    "ship_city", "ship_district", "ship_address", "tracking_number", "created_at",
)  # fmt: skip


@staff_only(Capability.ORDERS)
async def orders(request: Request) -> Response:
    status = read_query(request, schemas.OrdersQuery).status or None
    return await render(
        request,
        "store/admin_orders.html",
        {
            "orders": await services.orders_for_admin(status, limit=200),
            "status": status or "",
            "statuses": [s.value for s in OrderStatus],
            "refund_requests": await services.refunds.open_requests(),
            "carriers": carriers.CARRIERS,
            "invoice_requests": await invoices.waiting(),
        },
    )


def _back() -> str:
    return links.path("store.admin.orders")


@staff_only(Capability.FULFIL)
async def attach_invoice(request: Request) -> Response:
    """Attach an issued invoice's PDF to its request."""
    form = await read_form(request)
    on_error_back(request, _back())
    upload = form.get("pdf")
    pdf = await upload.read(invoices.MAX_PDF_BYTES + 1) if isinstance(upload, UploadFile) else b""
    await form.close()
    await invoices.attach(
        request.path_params["id"],
        pdf,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Invoice attached; the buyer is told."), "success")
    return redirect_after_post(request, _back())


@staff_only(Capability.FULFIL)
async def ship(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, _back())
    await services.mark_shipped(
        order_id=request.path_params["id"],
        carrier=str(form.get("carrier", ""))[:20],
        tracking_number=str(form.get("tracking_number", ""))[:100],
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Marked shipped."), "success")
    return redirect_after_post(request, _back())


@staff_only(Capability.REFUND)
async def refund(request: Request) -> Response:
    await read_form(request)
    on_error_back(request, _back())
    await services.refund_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    flash(request, gettext_for(request)("Refunded."), "success")
    return redirect_after_post(request, _back())


@staff_only(Capability.REFUND)
async def approve_refund(request: Request) -> Response:
    await read_form(request)
    on_error_back(request, _back())
    await services.refunds.approve(
        provider=request.app.state.payments_provider,
        request_id=request.path_params["id"],
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refunded."), "success")
    return redirect_after_post(request, _back())


@staff_only(Capability.REFUND)
async def refuse_refund(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, _back())
    await services.refunds.refuse(
        request_id=request.path_params["id"],
        actor=staff_member(request),
        note=str(form.get("note", "")),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refused; the buyer is told why."), "success")
    return redirect_after_post(request, _back())


async def _order_rows(status: str | None) -> AsyncIterator[list[object]]:
    async for order in services.all_orders(status):
        yield [
            order.id,
            order.status.value,
            f"{order.total_fen / 100:.2f}",
            order.user.email,
            order.ship_name or "",
            order.ship_phone or "",
            order.ship_province or "",
            order.ship_city or "",
            order.ship_district or "",
            order.ship_address or "",
            order.tracking_number or "",
            order.created_at.astimezone(SHANGHAI).isoformat(),
        ]


@staff_only(Capability.EXPORT)
async def orders_csv(request: Request) -> Response:
    """Orders (of the status the page shows) as CSV, read a batch at a time; the export is
    itself an audit entry, written before it streams."""
    refuse_cross_site(request)
    status = read_query(request, schemas.OrdersQuery).status or None
    await services.record_export(actor=staff_member(request), status=status, now=datetime.now(UTC))
    return csv_download("orders.csv", ORDER_COLUMNS, _order_rows(status))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/orders", orders, methods=["GET"], name="store.admin.orders"),
        Route("/admin/orders.csv", orders_csv, methods=["GET"], name="store.admin.orders_csv"),
        Route("/admin/orders/{id:id}/ship", ship, methods=["POST"], name="store.admin.ship"),
        Route(
            "/admin/invoices/{id:id}/pdf",
            attach_invoice,
            methods=["POST"],
            name="store.admin.attach_invoice",
        ),
        Route("/admin/orders/{id:id}/refund", refund, methods=["POST"], name="store.admin.refund"),
        Route(
            "/admin/orders/refund-requests/{id:id}/approve",
            approve_refund,
            methods=["POST"],
            name="store.admin.approve_refund",
        ),
        Route(
            "/admin/orders/refund-requests/{id:id}/refuse",
            refuse_refund,
            methods=["POST"],
            name="store.admin.refuse_refund",
        ),
    ]
