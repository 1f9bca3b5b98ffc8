"""Store's pages: listings, the product page with its countdown and live stock, buy, pay, orders."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from errors import DomainError, ValidationError
from membership.services import is_member
from payments import services as payments
from store import schemas, services
from store.errors import SoldOut
from store.models import Category, Order, OrderEvent, OrderStatus
from web.api import read_query
from web.auth import current_user, require_user
from web.csrf import read_form
from web.rendering import flash, gettext_for, redirect_after_post, render


async def listing(request: Request) -> Response:
    """New this week (the default), hottest, or one category."""
    now = datetime.now(UTC)
    query = read_query(request, schemas.ListingQuery)
    view, category = query.view, query.category or None
    products, _ = await services.list_products(
        now=now, category=category, sort="hot" if view == "hot" else "new", limit=60
    )
    if view == "new" and category is None:
        products = [p for p in products if now - p.created_at <= services.NEW_FOR]
    left = await services.stock_left_of(products)
    return await render(
        request,
        "store/listing.html",
        {
            "products": [(p, left[p.id]) for p in products],
            "categories": await Category.all().order_by("position", "name"),
            "view": view,
            "category": category,
        },
    )


async def product_page(request: Request) -> Response:
    now = datetime.now(UTC)
    product = await services.get_product(request.path_params["id"])
    user = await current_user(request)
    opens = services.sale_opens_for(product, user, now) if user else product.sale_starts_at
    state = "open"
    if product.raffle_entries_until is not None and product.raffle_drawn_at is None:
        state = "raffle" if now < product.raffle_entries_until else "drawing"
    elif opens is not None and now < opens:
        state = "upcoming"
    elif product.sale_ends_at is not None and now >= product.sale_ends_at:
        state = "ended"
    return await render(
        request,
        "store/product.html",
        {
            "product": product,
            "stock_left": await services.stock_left(product),
            "state": state,
            "opens": opens,
            "member": bool(user and is_member(user, at=now)),
        },
    )


async def stock_partial(request: Request) -> Response:
    product = await services.get_product(request.path_params["id"])
    return await render(
        request,
        "store/_stock_left.html",
        {"product": product, "stock_left": await services.stock_left(product)},
    )


async def buy(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    product_id = request.path_params["id"]
    quantity_text = str(form.get("quantity", "1")).strip()
    _ = gettext_for(request)
    try:
        if not quantity_text.isdigit():
            raise ValidationError("quantity", "must be a whole number")
        sold_out = services.known_sold_out([product_id])
        if sold_out is not None:
            raise SoldOut(f"“{sold_out}” is sold out.")
        order = await services.place_order(
            user=user,
            items=[services.Wanted(product_id=product_id, quantity=int(quantity_text))],
            now=datetime.now(UTC),
            counter=request.app.state.counter,
        )
    except DomainError as exc:
        flash(request, _(exc.message), "error")
        return redirect_after_post(request, f"/store/products/{product_id}")
    return redirect_after_post(request, f"/store/orders/{order.id}/pay")


async def enter_raffle(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    product_id = request.path_params["id"]
    _ = gettext_for(request)
    try:
        await services.enter_raffle(product_id=product_id, user=user, now=datetime.now(UTC))
    except DomainError as exc:
        flash(request, _(exc.message), "error")
    else:
        flash(request, _("You are in the raffle; winners are told in their inbox."), "success")
    return redirect_after_post(request, f"/store/products/{product_id}")


async def remind(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    product_id = request.path_params["id"]
    _ = gettext_for(request)
    if await services.remind_me(product_id=product_id, user=user, now=datetime.now(UTC)):
        flash(request, _("We will tell you in your inbox when it goes on sale."), "success")
    return redirect_after_post(request, f"/store/products/{product_id}")


async def checkout_page(request: Request) -> Response:
    user = await require_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect_after_post(request, f"/store/orders/{order.id}")
    settings = request.app.state.settings
    return await render(
        request,
        "store/checkout.html",
        {
            "order": order,
            "items": await services.order_items(order),
            "expired": order.hold_expires_at <= datetime.now(UTC),
            "stripe_js": settings.stripe_js_url,
            "publishable_key": settings.stripe_publishable_key,
        },
    )


async def pay(request: Request) -> Response:
    """Called by the checkout script: the shipping address, then the card; JSON back."""
    user = await require_user(request)
    form = await read_form(request)
    _ = gettext_for(request)
    try:
        order = await services.order_for_user(request.path_params["id"], user)
        await services.set_shipping(
            order,
            name=str(form.get("ship_name", "")),
            phone=str(form.get("ship_phone", "")),
            address=str(form.get("ship_address", "")),
        )
        result = await services.pay_order(
            provider=request.app.state.payments_provider,
            order_id=order.id,
            user=user,
            payment_method=str(form.get("payment_method", "")),
            now=datetime.now(UTC),
        )
    except ValidationError as exc:
        return JSONResponse(
            {"status": "error", "field": exc.field, "message": f"{exc.field}: {_(exc.reason)}"},
            status_code=422,
        )
    except DomainError as exc:
        return JSONResponse(
            {"status": "error", "code": exc.code, "message": _(exc.message)},
            status_code=exc.status,
        )
    if result.outcome == payments.Outcome.PAID:
        return JSONResponse({"status": "paid", "redirect": f"/store/orders/{order.id}"})
    if result.outcome == payments.Outcome.FAILED:
        return JSONResponse({"status": "failed", "message": result.reason})
    return JSONResponse({"status": "requires_action", "client_secret": result.client_secret})


async def payment_status(request: Request) -> Response:
    user = await require_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    if order.payment_id is not None:
        await payments.refresh_payment(
            request.app.state.payments_provider, order.payment_id, now=datetime.now(UTC)
        )
        order = await Order.get(id=order.id)
    if order.status in services.SOLD_STATUSES:
        return JSONResponse({"status": "paid", "redirect": f"/store/orders/{order.id}"})
    if order.status == OrderStatus.PENDING_PAYMENT:
        failure = await services.last_payment_failure(order)
        if failure is not None:  # the order is still held: the buyer may try again
            return JSONResponse({"status": "failed", "message": gettext_for(request)(failure)})
        return JSONResponse({"status": "pending"})
    return JSONResponse(
        {"status": "failed", "message": gettext_for(request)("The payment failed.")}
    )


async def cancel(request: Request) -> Response:
    """The buyer gives back an order waiting for payment."""
    user = await require_user(request)
    await read_form(request)
    order = await services.cancel_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    flash(request, _("The order is cancelled; its items are back on sale."))
    return redirect_after_post(request, f"/store/orders/{order.id}")


async def order_page(request: Request) -> Response:
    user = await require_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    return await render(
        request,
        "store/order.html",
        {
            "order": order,
            "items": await services.order_items(order),
            "events": await OrderEvent.filter(order_id=order.id).order_by("id"),
        },
    )


async def my_orders(request: Request) -> Response:
    user = await require_user(request)
    orders = await Order.filter(user_id=user.id).order_by("-id").limit(50)
    return await render(request, "store/orders.html", {"orders": orders})


routes = [
    Route("/store", listing, methods=["GET"]),
    Route("/store/products/{id:id}", product_page, methods=["GET"]),
    Route("/store/products/{id:id}/stock", stock_partial, methods=["GET"]),
    Route("/store/products/{id:id}/buy", buy, methods=["POST"]),
    Route("/store/products/{id:id}/remind", remind, methods=["POST"]),
    Route("/store/products/{id:id}/raffle", enter_raffle, methods=["POST"]),
    Route("/store/orders", my_orders, methods=["GET"]),
    Route("/store/orders/{id:id}", order_page, methods=["GET"]),
    Route("/store/orders/{id:id}/pay", checkout_page, methods=["GET"]),
    Route("/store/orders/{id:id}/pay", pay, methods=["POST"]),
    Route("/store/orders/{id:id}/status", payment_status, methods=["GET"]),
    Route("/store/orders/{id:id}/cancel", cancel, methods=["POST"]),
]
