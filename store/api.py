"""Store's JSON API for shoppers: listings, products, orders, their payment and refund
requests, raffle entries; and the shapes of its answers (store.admin_api answers with them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from errors import DomainError
from payments.checkout import api_choice, paid_with, site_origins
from store import analytics, carriers, invoices, schemas, services
from store.covers import cover_url
from store.images import image_url
from store.models import Order, Product, RefundRequest
from web.api import (
    decode_json,
    decoders_of,
    iso,
    json_body,
    json_response,
    operation,
    read_json,
    read_query,
)
from web.auth import api_user, bearer_token, optional_api_user
from web.i18n import api_locale, translations


async def product_json(
    product: Product, *, left: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    # This API reads no caller: the sale is the one a visitor sees (the page's own rule).
    sale = await services.sale_for(product, None, now or datetime.now(UTC))
    return {
        "id": product.id,
        "title": product.title,
        "category": product.category.name,
        "price_fen": product.price_fen,
        "stock_left": await services.stock_left(product) if left is None else left,
        "sale_starts_at": iso(product.sale_starts_at),
        "sale_ends_at": iso(product.sale_ends_at),
        "members_only": product.members_only,
        "per_customer_limit": product.per_customer_limit,
        "member_head_start_minutes": product.member_head_start_minutes,
        "description": product.description,
        "raffle_entries_until": iso(product.raffle_entries_until),
        "raffle_purchase_minutes": product.raffle_purchase_minutes,
        "raffle_drawn_at": iso(product.raffle_drawn_at),
        "raffle_seed": product.raffle_seed,
        "image_url": image_url(product.image),
        "thumbnail_url": image_url(product.image, "thumb"),
        # Drawn from the title, for every product: what to show while image_url is null.
        "cover_url": cover_url(product.id),
        "cover_thumbnail_url": cover_url(product.id, "thumb"),
        "requires_shipping": product.requires_shipping,
        "shipping_fee_fen": product.shipping_fee_fen,
        "published": product.published,
        "sale_state": sale.state.value,
    }


async def order_json(order: Order) -> dict[str, Any]:
    items = await services.order_items(order)
    return {
        "id": order.id,
        "status": order.status.value,
        "total_fen": order.total_fen,
        "shipping_fee_fen": order.shipping_fee_fen,
        "hold_expires_at": iso(order.hold_expires_at),
        "items": [
            {
                "product_id": item.product.id,
                "title": item.product.title,
                "quantity": item.quantity,
                "unit_price_fen": item.unit_price_fen,
            }
            for item in items
        ],
        "tracking_number": order.tracking_number,
        "carrier": order.carrier,
        "tracking_url": carriers.tracking_url(order.carrier, order.tracking_number),
        "requires_shipping": any(item.product.requires_shipping for item in items),
        "shipping": services.shipping_json(order),
        **await paid_with(order.payment_id),
    }


@operation(
    "Products, newest first or hottest (units paid in the last 7 days)",
    query=schemas.ProductsQuery,
    answer=schemas.Products,
    auth=None,
    tag="store",
)
async def list_products(request: Request) -> Response:
    query = read_query(request, schemas.ProductsQuery)
    now = datetime.now(UTC)
    products, next_cursor = await services.list_products(
        now=now,
        category=query.category or None,
        sort=query.sort,
        new_within_days=query.new_within_days,
        cursor=int(query.cursor or 0),
    )
    stock = await services.stock_left_of(products)
    return json_response(
        {
            "items": [await product_json(p, left=stock[p.id], now=now) for p in products],
            "next_cursor": str(next_cursor) if next_cursor is not None else None,
        }
    )


@operation(
    "One product (an unpublished one is 404, except to staff who may change the catalogue)",
    answer=schemas.Product,
    auth="optional",
    tag="store",
    errors={404: "product_not_found"},
)
async def get_product(request: Request) -> Response:
    viewer = await optional_api_user(request)
    product = await services.shown_product(request.path_params["id"], viewer)
    analytics.count_product_view(
        request.app.state.memory.tally, product, viewer.id if viewer else None, datetime.now(UTC)
    )
    return json_response(await product_json(product))


@operation(
    "Order products: their units are held for 10 minutes while you pay",
    body=schemas.NewOrder,
    answer=schemas.HeldOrder,
    status=201,
    tag="store",
    errors={
        403: "members_only, not_a_winner",
        404: "product_not_found",
        409: "sold_out, not_started, ended, limit_exceeded, order_too_large",
        429: "rate_limited",
    },
)
async def create_order(request: Request) -> Response:
    # A bad body is answered after authentication (an unknown token hears so first). A good
    # one goes to place_order with the token, even none: a drop this worker knows is sold out
    # is answered before anyone is looked up (it is public, and costs no database round trip
    # in a rush), and the token's owner is found by the hold's own statement where it can be.
    try:
        order = decode_json(await json_body(request), schemas.NewOrder, decoders_of(request))
    except DomainError:
        await api_user(request)
        raise
    held = await services.place_order(
        buyer=bearer_token(request),
        items=[
            services.Wanted(product_id=item.product_id, quantity=item.quantity)
            for item in order.items
        ],
        now=datetime.now(UTC),
        counter=request.app.state.counter,
        memory=request.app.state.memory.store,
        free_shipping_over_fen=request.app.state.settings.free_shipping_over_fen,
        shipping=order.shipping.checked() if order.shipping is not None else None,
    )
    return json_response(
        {
            "id": held.id,
            "status": held.status.value,
            "total_fen": held.total_fen,
            "shipping_fee_fen": held.shipping_fee_fen,
            "hold_expires_at": iso(held.hold_expires_at),
        },
        201,
    )


@operation(
    "One of the caller's orders",
    answer=schemas.Order,
    tag="store",
    errors={404: "order_not_found"},
)
async def get_order(request: Request) -> Response:
    user = await api_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    return json_response(await order_json(order))


@operation(
    "Pay for a held order: by card ({payment_method}), WeChat Pay ({method: wechat_pay}: a QR "
    "code) or Alipay ({method: alipay, return_url}: a redirect); an order that ships needs its "
    "address (given here or with the order). The final status comes from GET on the order",
    body=schemas.PayOrder,
    answer=schemas.PaymentAnswer,
    tag="store",
    errors={
        # A provider abroad (a card through Stripe) before the cross-border consent.
        403: "consent_required",
        404: "order_not_found",
        409: "hold_expired, already_paid, payment_in_progress",
        422: "address_required",
        503: "payment_unavailable",
    },
)
async def pay_order(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.PayOrder)
    result = await services.pay_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        user=user,
        choice=await api_choice(request, user, data.choice(site_origins(request))),
        now=datetime.now(UTC),
        shipping=data.shipping.checked() if data.shipping is not None else None,
    )
    return json_response(result.answer(translations(api_locale(request, user)).gettext))


@operation(
    "Give back an order waiting for payment: its units return at once (a payment under way is "
    "canceled at the provider first)",
    tag="store",
    answer=schemas.OrderCancelled,
    errors={
        404: "order_not_found",
        409: "already_paid, payment_in_progress",
        503: "payment_unavailable",
    },
)
async def cancel_order(request: Request) -> Response:
    user = await api_user(request)
    order = await services.cancel_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    return json_response({"id": order.id, "status": order.status.value})


def refund_request_json(request: RefundRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "order_id": request.order_id,  # type: ignore[attr-defined]
        "status": request.status.value,
        "reason": request.reason,
        "note": request.note,
        "created_at": iso(request.created_at),
        "decided_at": iso(request.decided_at),
    }


@operation(
    "Ask for a refund of one's own paid order, saying why; an admin decides",
    body=schemas.RefundAsk,
    answer=schemas.RefundRequestAnswer,
    status=201,
    tag="store",
    errors={404: "order_not_found", 409: "bad_order_state, refund_requested"},
)
async def ask_refund(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.RefundAsk)
    asked = await services.refunds.ask(
        order_id=request.path_params["id"], user=user, reason=data.reason, now=datetime.now(UTC)
    )
    return json_response(refund_request_json(asked), 201)


@operation(
    "Enter a raffle drop during its entry period",
    answer=schemas.Entries,
    status=201,
    tag="store",
    errors={
        403: "members_only",
        404: "product_not_found",
        409: "not_a_raffle, raffle_closed",
    },
)
async def enter_raffle(request: Request) -> Response:
    user = await api_user(request)
    entries = await services.enter_raffle(
        product_id=request.path_params["id"], user=user, now=datetime.now(UTC)
    )
    return json_response({"entries": entries}, 201)


@operation(
    "Confirm a shipped order arrived (确认收货): the caller's own order only",
    answer=schemas.ReceiptConfirmed,
    tag="store",
    errors={404: "order_not_found", 409: "bad_order_state"},
)
async def confirm_receipt(request: Request) -> Response:
    user = await api_user(request)
    order = await services.confirm_receipt(order_id=request.path_params["id"], user=user)
    return json_response({"id": order.id, "status": order.status.value})


@operation(
    "Ask for an electronic ordinary invoice (发票) on the caller's paid order, personal or for "
    "a company; staff attach the PDF once issued",
    body=schemas.NewInvoiceRequest,
    answer=schemas.InvoiceRequested,
    status=201,
    tag="store",
    errors={
        404: "order_not_found",
        409: "bad_order_state, invoice_requested",
        422: "invalid_field",
    },
)
async def request_invoice(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.NewInvoiceRequest)
    invoice = await invoices.ask(
        order_id=request.path_params["id"], user=user, kind=data.kind, title=data.title,
        tax_id=data.tax_id, email=data.email, now=datetime.now(UTC),
    )  # fmt: skip
    return json_response({"id": invoice.id, "status": invoice.status.value}, 201)


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        # First: a drop's rush comes here.
        Route("/orders", create_order, methods=["POST"], name="store.create_order"),
        Route(
            "/products/{id:id}/raffle-entries",
            enter_raffle,
            methods=["POST"],
            name="store.enter_raffle",
        ),
        Route("/products", list_products, methods=["GET"], name="store.list_products"),
        Route("/products/{id:id}", get_product, methods=["GET"], name="store.get_product"),
        Route("/orders/{id:id}", get_order, methods=["GET"], name="store.get_order"),
        Route("/orders/{id:id}/payment", pay_order, methods=["POST"], name="store.pay_order"),
        Route("/orders/{id:id}/cancel", cancel_order, methods=["POST"], name="store.cancel_order"),
        Route(
            "/orders/{id:id}/invoice-request",
            request_invoice,
            methods=["POST"],
            name="store.request_invoice",
        ),
        Route(
            "/orders/{id:id}/receipt-confirmation",
            confirm_receipt,
            methods=["POST"],
            name="store.confirm_receipt",
        ),
        Route(
            "/orders/{id:id}/refund-request", ask_refund, methods=["POST"], name="store.ask_refund"
        ),
    ]
