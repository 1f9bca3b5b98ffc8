"""Store's admin pages: products and drops, orders with filters, shipping, refunds, CSV."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from errors import ValidationError
from store import schemas, services
from store.images import resize_upload, store_product_image
from store.models import OrderStatus
from web.auth import require_admin
from web.csrf import read_form
from web.decoding import read_query
from web.forms import (
    Fields,
    csv_download,
    field_errors,
    optional_beijing_time,
    optional_whole_number,
    whole_number,
    yuan_to_fen,
)
from web.rendering import SHANGHAI, flash, gettext_for, redirect_after_post, render


async def dashboard(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    await require_admin(request)
    status = read_query(request, schemas.OrdersQuery).status or None
    products = await services.newest_products(limit=100)
    left = await services.stock_left_of(products)
    return await render(
        request,
        "store/admin.html",
        {
            "products": [(p, left[p.id]) for p in products],
            "orders": await services.orders_for_admin(status, limit=200),
            "status": status or "",
            "statuses": [s.value for s in OrderStatus],
            "errors": errors or {},
            "values": values or {},
            "refund_requests": await services.refunds.open_requests(),
        },
        status_code=422 if errors else 200,
    )


async def create_product(request: Request) -> Response:
    await require_admin(request)
    form = await read_form(request)
    text = {key: str(form.get(key, "")) for key in form if isinstance(form.get(key), str)}
    upload = form.get("image")
    picture = await upload.read() if isinstance(upload, UploadFile) else b""
    await form.close()
    # Every field is read before anything is refused (web.forms.Fields).
    fields = Fields()
    resized = (
        await fields.read_async(resize_upload(picture, request.app.state.pictures))
        if picture
        else None
    )
    price_fen = fields.read(lambda: yuan_to_fen("price_yuan", text.get("price_yuan", "")))
    stock = fields.read(lambda: whole_number("stock", text.get("stock", ""), default=0))
    limit = fields.read(
        lambda: optional_whole_number("per_customer_limit", text.get("per_customer_limit", ""))
    )
    head_start = fields.read(
        lambda: whole_number(
            "member_head_start_minutes", text.get("member_head_start_minutes", ""), default=0
        )
    )
    starts = fields.read(
        lambda: optional_beijing_time("sale_starts_at", text.get("sale_starts_at", ""))
    )
    ends = fields.read(lambda: optional_beijing_time("sale_ends_at", text.get("sale_ends_at", "")))
    try:
        fields.check()
        product = await services.create_product(
            title=text.get("title", ""),
            description=text.get("description", ""),
            category=text.get("category", ""),
            price_fen=price_fen,  # type: ignore[arg-type]  # checked above
            stock=stock,  # type: ignore[arg-type]
            per_customer_limit=limit,
            members_only=text.get("members_only") == "on",
            member_head_start_minutes=head_start,  # type: ignore[arg-type]
            sale_starts_at=starts,
            sale_ends_at=ends,
            # A checkbox sends nothing when unticked: the form sends "digital" for goods
            # that do not ship.
            requires_shipping=text.get("digital") != "on",
        )
        if resized is not None:
            media = request.app.state.settings.var_dir / "media"
            product.image = store_product_image(media, product.id, resized)
            await product.save(update_fields=["image"])
    except ValidationError as exc:
        return await dashboard(request, errors=field_errors(exc), values=text)
    flash(request, gettext_for(request)("The product was created."), "success")
    return redirect_after_post(request, links.path("store.admin.dashboard"))


async def ship(request: Request) -> Response:
    await require_admin(request)
    form = await read_form(request)
    await services.mark_shipped(
        order_id=request.path_params["id"],
        tracking_number=str(form.get("tracking_number", "")),
    )
    flash(request, gettext_for(request)("Marked shipped."), "success")
    return redirect_after_post(request, links.path("store.admin.dashboard"))


async def refund(request: Request) -> Response:
    await require_admin(request)
    await read_form(request)
    await services.refund_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refunded."), "success")
    return redirect_after_post(request, links.path("store.admin.dashboard"))


async def approve_refund(request: Request) -> Response:
    admin = await require_admin(request)
    await read_form(request)
    await services.refunds.approve(
        provider=request.app.state.payments_provider,
        request_id=request.path_params["id"],
        admin=admin,
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refunded."), "success")
    return redirect_after_post(request, links.path("store.admin.dashboard"))


async def refuse_refund(request: Request) -> Response:
    admin = await require_admin(request)
    form = await read_form(request)
    await services.refunds.refuse(
        request_id=request.path_params["id"],
        admin=admin,
        note=str(form.get("note", "")),
        now=datetime.now(UTC),
    )
    flash(request, gettext_for(request)("Refused; the buyer is told why."), "success")
    return redirect_after_post(request, links.path("store.admin.dashboard"))


async def orders_csv(request: Request) -> Response:
    await require_admin(request)
    orders = await services.orders_for_admin(
        read_query(request, schemas.OrdersQuery).status or None
    )
    return csv_download(
        "orders.csv",
        [
            "order",
            "status",
            "total_yuan",
            "email",
            "ship_name",
            "ship_phone",
            "ship_province",
            "ship_city",
            "ship_district",
            "ship_address",
            "tracking_number",
            "created_at",
        ],
        (
            [
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
            for order in orders
        ),
    )


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/store/admin", dashboard, methods=["GET"], name="store.admin.dashboard"),
        # Placeholders until the catalogue's own pages land (the console's menu names them).
        Route("/admin/catalogue", dashboard, methods=["GET"], name="store.admin.catalogue"),
        Route("/admin/drops", dashboard, methods=["GET"], name="store.admin.drops"),
        Route("/admin/orders", dashboard, methods=["GET"], name="store.admin.orders"),
        Route(
            "/store/admin/products",
            create_product,
            methods=["POST"],
            name="store.admin.create_product",
        ),
        Route("/store/admin/orders/{id:id}/ship", ship, methods=["POST"], name="store.admin.ship"),
        Route(
            "/store/admin/orders/{id:id}/refund",
            refund,
            methods=["POST"],
            name="store.admin.refund",
        ),
        Route(
            "/store/admin/refund-requests/{id:id}/approve",
            approve_refund,
            methods=["POST"],
            name="store.admin.approve_refund",
        ),
        Route(
            "/store/admin/refund-requests/{id:id}/refuse",
            refuse_refund,
            methods=["POST"],
            name="store.admin.refuse_refund",
        ),
        Route(
            "/store/admin/orders.csv", orders_csv, methods=["GET"], name="store.admin.orders_csv"
        ),
    ]
