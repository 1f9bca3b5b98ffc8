"""Store's JSON API for staff: products (made, changed, restocked, deleted, pictured, raffles
drawn; Capability.CATALOGUE), refunds and the requests for them (REFUND; listing them: ORDERS).
Shoppers' endpoints are in store.api; both answer with its shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from store import carriers, schemas, services
from store.api import order_json, product_json, refund_request_json
from web.api import json_response, operation, read_json, read_query
from web.auth import staff_member, staff_only
from web.limits import FORM_FIELDS


@operation(
    "Create a product, limited drops included (admins)",
    body=schemas.NewProduct,
    answer=schemas.Product,
    status=201,
    auth="admin",
    tag="store",
)
@staff_only(Capability.CATALOGUE)
async def create_product(request: Request) -> Response:
    data = await read_json(request, schemas.NewProduct)
    product = await services.create_product(
        title=data.title,
        description=data.description,
        category=data.category,
        price_fen=data.price_fen,
        stock=data.stock,
        per_customer_limit=data.per_customer_limit,
        members_only=data.members_only,
        member_head_start_minutes=data.member_head_start_minutes,
        sale_starts_at=data.sale_starts_at,
        sale_ends_at=data.sale_ends_at,
        raffle_entries_until=data.raffle_entries_until,
        raffle_purchase_minutes=data.raffle_purchase_minutes,
        requires_shipping=data.requires_shipping,
        shipping_fee_fen=data.shipping_fee_fen,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    product = await services.get_product(product.id)
    return json_response(await product_json(product), 201)


@operation(
    "Every product, unpublished ones included, newest first (staff)",
    query=schemas.AdminProductsQuery,
    answer=schemas.Products,
    auth="admin",
    tag="store",
)
@staff_only(Capability.CATALOGUE)
async def list_all_products(request: Request) -> Response:
    query = read_query(request, schemas.AdminProductsQuery)
    products, next_cursor = await services.products_for_staff(
        before=int(query.cursor) if query.cursor else None
    )
    now = datetime.now(UTC)
    left = await services.stock_left_of(products)
    return json_response(
        {
            "items": [await product_json(p, left=left[p.id], now=now) for p in products],
            "next_cursor": str(next_cursor) if next_cursor is not None else None,
        }
    )


@operation(
    "Change a product (staff): a field left out keeps its value",
    body=schemas.ProductChanges,
    answer=schemas.Product,
    auth="admin",
    tag="store",
    errors={404: "product_not_found", 409: "product_has_orders, raffle_closed"},
)
@staff_only(Capability.CATALOGUE)
async def change_product(request: Request) -> Response:
    data = await read_json(request, schemas.ProductChanges)
    product = await services.update_product(
        request.path_params["id"],
        data.changes(),
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    return json_response(await product_json(product))


@operation(
    "Add units to a product's stock, or remove units neither sold nor held (staff)",
    body=schemas.StockChange,
    answer=schemas.StockNow,
    auth="admin",
    tag="store",
    errors={404: "product_not_found", 409: "stock_below_committed"},
)
@staff_only(Capability.CATALOGUE)
async def change_stock(request: Request) -> Response:
    data = await read_json(request, schemas.StockChange)
    stock, left = await services.change_stock(
        request.path_params["id"],
        data.change,
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    return json_response({"stock": stock, "stock_left": left})


@operation(
    "Delete a product no order ever held (staff); unpublish one that sold instead",
    status=204,
    auth="admin",
    tag="store",
    errors={404: "product_not_found", 409: "product_has_orders"},
)
@staff_only(Capability.CATALOGUE)
async def delete_product(request: Request) -> Response:
    await services.delete_product(
        request.path_params["id"],
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    return Response(status_code=204)


@operation(
    "Refund a paid order: money back, stock back if the drop is live (admins)",
    answer=schemas.Order,
    auth="admin",
    tag="store",
    errors={
        404: "order_not_found, payment_not_found",
        409: "bad_order_state, not_refundable",
        422: "refund_too_large",
        503: "payment_unavailable",
    },
)
@staff_only(Capability.REFUND)
async def refund_order(request: Request) -> Response:
    order = await services.refund_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        now=datetime.now(UTC),
        actor=staff_member(request),
    )
    return json_response(await order_json(order))


@operation(
    "Ship a paid order with a carrier and its tracking number; its buyer is told",
    body=schemas.Shipment,
    answer=schemas.Shipped,
    auth="admin",
    tag="store",
    errors={404: "order_not_found", 409: "bad_order_state"},
)
@staff_only(Capability.FULFIL)
async def ship_order(request: Request) -> Response:
    data = await read_json(request, schemas.Shipment)
    order = await services.mark_shipped(
        order_id=request.path_params["id"],
        carrier=data.carrier,
        tracking_number=data.tracking_number,
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response(
        {
            "id": order.id,
            "status": order.status.value,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "tracking_url": carriers.tracking_url(order.carrier, order.tracking_number),
        }
    )


@operation(
    "Refund requests waiting for a decision, oldest first (staff who read orders)",
    answer=schemas.RefundRequests,
    auth="admin",
    tag="store",
)
@staff_only(Capability.ORDERS)
async def list_refund_requests(request: Request) -> Response:
    waiting = await services.refunds.open_requests()
    return json_response({"items": [refund_request_json(r) for r in waiting]})


@operation(
    "Approve a refund request: the order is refunded in full (admins)",
    answer=schemas.RefundRequestAnswer,
    auth="admin",
    tag="store",
    errors={
        404: "refund_request_not_found, payment_not_found",
        409: "bad_order_state, not_refundable",
        422: "refund_too_large",
        503: "payment_unavailable",
    },
)
@staff_only(Capability.REFUND)
async def approve_refund(request: Request) -> Response:
    decided = await services.refunds.approve(
        provider=request.app.state.payments_provider,
        request_id=request.path_params["id"],
        actor=staff_member(request),
        now=datetime.now(UTC),
    )
    return json_response(refund_request_json(decided))


@operation(
    "Refuse a refund request, with a note the buyer reads (admins)",
    body=schemas.RefundDecisionNote,
    answer=schemas.RefundRequestAnswer,
    auth="admin",
    tag="store",
    errors={404: "refund_request_not_found"},
)
@staff_only(Capability.REFUND)
async def refuse_refund(request: Request) -> Response:
    data = await read_json(request, schemas.RefundDecisionNote)
    decided = await services.refunds.refuse(
        request_id=request.path_params["id"],
        actor=staff_member(request),
        note=data.note,
        now=datetime.now(UTC),
    )
    return json_response(refund_request_json(decided))


@operation(
    "Upload a product's picture as multipart field `image` (admins); it is resized",
    form=schemas.IMAGE_UPLOAD,
    encoding=schemas.IMAGE_ENCODING,
    answer=schemas.Product,
    auth="admin",
    tag="store",
    errors={404: "product_not_found"},
)
@staff_only(Capability.CATALOGUE)
async def upload_image(request: Request) -> Response:
    async with request.form(max_fields=FORM_FIELDS) as form:  # closes the file after
        upload = form.get("image")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    product = await services.set_product_image(
        product_id=request.path_params["id"],
        data=data,
        pictures=request.app.state.pictures,
        actor=staff_member(request),
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    return json_response(await product_json(await services.get_product(product.id)))


@operation(
    "Draw a raffle now that its entries closed (admins; the app also draws by itself)",
    answer=schemas.Draw,
    auth="admin",
    tag="store",
    errors={404: "product_not_found", 409: "not_a_raffle, not_started, raffle_closed"},
)
@staff_only(Capability.CATALOGUE)
async def draw_raffle(request: Request) -> Response:
    draw = await services.draw_raffle(
        product_id=request.path_params["id"],
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
        actor=staff_member(request),
    )
    return json_response({"seed": draw.seed, "entries": draw.entries, "winners": draw.winners})


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/products", create_product, methods=["POST"], name="store.create_product"),
        Route("/admin/products", list_all_products, methods=["GET"], name="store.admin_products"),
        Route(
            "/admin/products/{id:id}",
            change_product,
            methods=["PATCH"],
            name="store.change_product",
        ),
        Route(
            "/admin/products/{id:id}",
            delete_product,
            methods=["DELETE"],
            name="store.delete_product",
        ),
        Route(
            "/admin/products/{id:id}/stock",
            change_stock,
            methods=["POST"],
            name="store.change_stock",
        ),
        Route(
            "/admin/products/{id:id}/raffle-draw",
            draw_raffle,
            methods=["POST"],
            name="store.draw_raffle",
        ),
        Route(
            "/admin/products/{id:id}/image",
            upload_image,
            methods=["POST"],
            name="store.upload_image",
        ),
        Route(
            "/admin/orders/{id:id}/shipment",
            ship_order,
            methods=["POST"],
            name="store.ship_order",
        ),
        Route(
            "/admin/orders/{id:id}/refund",
            refund_order,
            methods=["POST"],
            name="store.refund_order",
        ),
        Route(
            "/admin/refund-requests",
            list_refund_requests,
            methods=["GET"],
            name="store.list_refund_requests",
        ),
        Route(
            "/admin/refund-requests/{id:id}/approve",
            approve_refund,
            methods=["POST"],
            name="store.approve_refund",
        ),
        Route(
            "/admin/refund-requests/{id:id}/refuse",
            refuse_refund,
            methods=["POST"],
            name="store.refuse_refund",
        ),
    ]
