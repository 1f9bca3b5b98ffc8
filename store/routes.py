"""Store's pages: listings, the product page with its countdown and live stock, buy, pay, orders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.models import User
from errors import ValidationError
from payments import checkout as payment_pages
from payments import services as payments
from payments.held import Held
from storage import STORAGE
from store import analytics, carriers, covers, divisions, history, invoices, schemas, services
from store.errors import LimitExceeded
from store.models import InvoiceRequest, OrderStatus
from translation import N_
from web.auth import current_user, require_user
from web.csrf import read_form
from web.decoding import read_fields, read_query
from web.errors import form_refused
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render
from web.stored import stored_response


async def listing(request: Request) -> Response:
    """New this week (the default), hottest, or one category."""
    query = read_query(request, schemas.ListingQuery)
    view, category = query.view, query.category or None
    products = await services.listing(now=datetime.now(UTC), view=view, category=category)
    left = await services.stock_left_of(products)
    return await render(
        request,
        "store/listing.html",
        {
            "products": [(p, left[p.id]) for p in products],
            "categories": await services.categories(),
            "view": view,
            "category": category,
        },
    )


async def _product_context(
    request: Request, product: Any, viewer: Any, now: datetime
) -> dict[str, Any]:
    sale = await services.sale_for(product, viewer, now)
    return {
        "free_shipping_over_fen": request.app.state.settings.free_shipping_over_fen,
        "product": product,
        "stock_left": await services.stock_left(product),
        "state": sale.state.value,
        "opens": sale.opens_at,
        "errors": {},
        "quantity": 1,
    }


async def product_page(request: Request) -> Response:
    now = datetime.now(UTC)
    viewer = await current_user(request)
    product = await services.shown_product(request.path_params["id"], viewer)
    analytics.count_product_view(
        request.app.state.memory.tally, product, viewer.id if viewer else None, now
    )
    return await render(
        request, "store/product.html", await _product_context(request, product, viewer, now)
    )


async def cover(request: Request) -> Response:
    """A product's drawn cover (PNG, at a picture size), shown while it has no picture. Its
    ETag is what it shows: a browser asks again after an hour and keeps it while that holds."""
    size = request.path_params["size"]
    if size not in covers.SIZES:
        raise HTTPException(status_code=404)
    product = await services.shown_product(request.path_params["id"], await current_user(request))
    shown = covers.cover_of(product.title, product.category.name, size)
    headers = {"ETag": shown.etag, "Cache-Control": "public, max-age=3600"}
    if shown.etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(await covers.draw(shown), media_type="image/png", headers=headers)


async def stock_partial(request: Request) -> Response:
    product = await services.shown_product(request.path_params["id"], await current_user(request))
    return await render(
        request,
        "store/_stock_left.html",
        {"product": product, "stock_left": await services.stock_left(product)},
    )


async def buy(request: Request) -> Response:
    user = await require_user(request)
    product_id = request.path_params["id"]
    on_error_back(request, links.path("store.product_page", id=product_id))
    raw = await read_form(request)
    typed = str(raw.get("quantity", "1"))[:10]
    try:
        form = read_fields(raw, schemas.BuyForm)
        order = await services.place_order(
            buyer=user,
            items=[services.Wanted(product_id=product_id, quantity=form.quantity)],
            now=datetime.now(UTC),
            counter=request.app.state.counter,
            memory=request.app.state.memory.store,
            free_shipping_over_fen=request.app.state.settings.free_shipping_over_fen,
        )
    except (ValidationError, LimitExceeded) as exc:
        if isinstance(exc, ValidationError) and exc.field != "quantity":
            raise
        # Said beside the quantity field, with what was typed, not as a note at the top.
        product = await services.shown_product(product_id, user)
        context = await _product_context(request, product, user, datetime.now(UTC))
        why = exc.reason if isinstance(exc, ValidationError) else exc.message
        context.update(errors={"quantity": why}, quantity=typed)
        return await form_refused(request, "store/product.html", context, exc)
    return redirect_after_post(request, links.path("store.checkout_page", id=order.id))


async def enter_raffle(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    product_id = request.path_params["id"]
    on_error_back(request, links.path("store.product_page", id=product_id))
    await services.enter_raffle(product_id=product_id, user=user, now=datetime.now(UTC))
    flash(
        request,
        gettext_for(request)("You are in the raffle; winners are told in their inbox."),
        "success",
    )
    return redirect_after_post(request, links.path("store.product_page", id=product_id))


async def remind(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    product_id = request.path_params["id"]
    _ = gettext_for(request)
    if await services.remind_me(product_id=product_id, user=user, now=datetime.now(UTC)):
        flash(request, _("We will tell you in your inbox when it goes on sale."), "success")
    return redirect_after_post(request, links.path("store.product_page", id=product_id))


class OrderCheckout:
    """An order, as the one checkout (payments.checkout) pays for it."""

    form = schemas.CheckoutForm

    def urls(self, subject_id: int) -> payment_pages.CheckoutUrls:
        return payment_pages.CheckoutUrls(
            area="store",
            subject_id=subject_id,
            paid=links.path("store.order_page", id=subject_id),
            receipt=links.path("store.receipt_page", id=subject_id),
            over=links.path("store.order_page", id=subject_id),
        )

    async def held(self, subject_id: int, user: User) -> Held:
        return services.held_order(await services.order_for_user(subject_id, user))

    async def view(self, request: Request, held: Held, user: User) -> payment_pages.CheckoutView:
        order = await services.order_for_user(held.subject_id, user)
        return payment_pages.CheckoutView(
            title=N_("Pay for your order"),
            what=gettext_for(request)("Order #%(n)d") % {"n": order.id},
            details="store/_checkout_details.html",
            form_fields="store/_checkout_address.html",
            expired_note=N_("The order's hold has expired; order again if stock is left."),
            cancel_label=N_("Cancel this order"),
            context={
                "order": order,
                "items": await services.order_items(order),
                "ships": await services.ships(order),
                "provinces": services.PROVINCES,
                "saved": await services.addresses.addresses_of(user),
            },
        )

    async def pay(
        self,
        request: Request,
        subject_id: int,
        user: User,
        form: schemas.CheckoutForm,
        choice: payments.PaymentChoice,
    ) -> payments.PaymentResult:
        return await services.pay_order(
            provider=request.app.state.payments_provider,
            order_id=subject_id,
            user=user,
            choice=choice,
            now=datetime.now(UTC),
            shipping=_address(form),
        )


ORDERS = OrderCheckout()


def _address(form: schemas.CheckoutForm) -> services.Address | None:
    """The address the checkout form gave (None when the order does not ship: no fields)."""
    if form.province is None:
        return None
    return services.check_address(
        name=form.name or "",
        phone=services.tidy_phone(form.phone or ""),
        province=form.province,
        city=form.city or "",
        district=form.district or "",
        address=form.address or "",
        district_code=form.district_code or None,
    )


async def divisions_json(request: Request) -> Response:
    """The mainland's provinces, cities and districts for checkout's picker (store.divisions):
    the same bytes for everyone, cached a day by the browser, and again by its ETag."""
    data = divisions.picker_data()
    tag = divisions.picker_etag()
    headers = {"ETag": tag, "Cache-Control": "public, max-age=86400"}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/json", headers=headers)


async def cancel(request: Request) -> Response:
    """The buyer gives back an order waiting for payment."""
    user = await require_user(request)
    await read_form(request)
    order = await services.cancel_order(
        provider=request.app.state.payments_provider,
        order_id=request.path_params["id"],
        user=user,
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
    )
    _ = gettext_for(request)
    flash(request, _("The order is cancelled; its items are back on sale."))
    return redirect_after_post(request, links.path("store.order_page", id=order.id))


async def confirm_receipt(request: Request) -> Response:
    """The buyer's 确认收货 on a shipped order's page."""
    user = await require_user(request)
    await read_form(request)
    order_id = request.path_params["id"]
    on_error_back(request, links.path("store.order_page", id=order_id))
    await services.confirm_receipt(order_id=order_id, user=user)
    flash(request, gettext_for(request)("Thank you: the order is marked received."), "success")
    return redirect_after_post(request, links.path("store.order_page", id=order_id))


async def ask_invoice(request: Request) -> Response:
    """The buyer's "ask for an invoice" on a paid order's page."""
    user = await require_user(request)
    form = await read_form(request)
    order_id = request.path_params["id"]
    on_error_back(request, links.path("store.order_page", id=order_id))
    await invoices.ask(
        order_id=order_id,
        user=user,
        kind=str(form.get("kind", ""))[:10],
        title=str(form.get("title", ""))[:200],
        tax_id=str(form.get("tax_id", ""))[:40] or None,
        email=str(form.get("email", ""))[:300] or None,
        now=datetime.now(UTC),
    )
    flash(
        request, gettext_for(request)("Invoice asked for: we tell you when it is ready."), "success"
    )
    return redirect_after_post(request, links.path("store.order_page", id=order_id))


async def invoice_pdf(request: Request) -> Response:
    """An order's issued invoice, to its buyer (and staff who read orders) only."""
    user = await require_user(request)
    order_id = request.path_params["id"]
    key = await invoices.pdf_for(order_id, user)
    return await stored_response(
        request,
        STORAGE.get(),
        key,
        media_type="application/pdf",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="invoice-{order_id}.pdf"',
        },
    )


async def order_page(request: Request) -> Response:
    user = await require_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    _ = gettext_for(request)
    events = await services.order_events(order)
    items = await services.order_items(order)
    return await render(
        request,
        "store/order.html",
        {
            "order": order,
            "items": items,
            "ships": order.shipping_fee_fen > 0 or services.has_address(order),
            "events": [(event, history.read_note(event.note, _)) for event in events],
            "refund_request": await services.refunds.latest_for(order),
            "payment": await services.order_payment(order),
            "can_ask_refund": order.status in services.SOLD_STATUSES,
            "carrier": carriers.CARRIERS.get(order.carrier or ""),
            "tracking_url": carriers.tracking_url(order.carrier, order.tracking_number),
            "confirm_after_days": request.app.state.settings.confirm_after_days,
            "invoice": await InvoiceRequest.get_or_none(order_id=order.id),
            "invoiceable": order.status in invoices.INVOICEABLE,
        },
    )


async def ask_refund(request: Request) -> Response:
    """The buyer's "ask for a refund" on the order page."""
    user = await require_user(request)
    form = await read_form(request)
    order_id = request.path_params["id"]
    on_error_back(request, links.path("store.order_page", id=order_id))
    await services.refunds.ask(
        order_id=order_id, user=user, reason=str(form.get("reason", "")), now=datetime.now(UTC)
    )
    flash(
        request,
        gettext_for(request)("Your refund request is sent; we tell you the answer."),
        "success",
    )
    return redirect_after_post(request, links.path("store.order_page", id=order_id))


async def receipt_page(request: Request) -> Response:
    """A paid order's receipt: what was bought, for how much, when, paid how, shipped where.
    Printable; an order not paid (yet, or any more) has none."""
    user = await require_user(request)
    order = await services.order_for_user(request.path_params["id"], user)
    if order.status not in services.SOLD_STATUSES and order.status != OrderStatus.REFUNDED:
        raise HTTPException(status_code=404, detail="This order has no receipt: it is not paid.")
    items = await services.order_items(order)
    return await render(
        request,
        "store/receipt.html",
        {
            "order": order,
            "items": items,
            "ships": order.shipping_fee_fen > 0 or services.has_address(order),
            "payment": await services.order_payment(order),
        },
    )


async def my_orders(request: Request) -> Response:
    user = await require_user(request)
    orders = await services.orders_of(user)
    return await render(request, "store/orders.html", {"orders": orders})


async def my_addresses(request: Request) -> Response:
    user = await require_user(request)
    saved = await services.addresses.saved_addresses(user)
    return await render(request, "store/addresses.html", {"saved": saved})


async def forget_address(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    await services.addresses.forget(user, request.path_params["id"])
    flash(request, gettext_for(request)("The address is forgotten."), "success")
    return redirect_after_post(request, links.path("store.my_addresses"))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/store", listing, methods=["GET"], name="store.listing"),
        Route("/store/products/{id:id}", product_page, methods=["GET"], name="store.product_page"),
        Route(
            "/store/products/{id:id}/cover-{size}.png",
            cover,
            methods=["GET"],
            name="store.cover",
        ),
        Route(
            "/store/products/{id:id}/stock",
            stock_partial,
            methods=["GET"],
            name="store.stock_partial",
        ),
        Route("/store/products/{id:id}/buy", buy, methods=["POST"], name="store.buy"),
        Route("/store/products/{id:id}/remind", remind, methods=["POST"], name="store.remind"),
        Route(
            "/store/products/{id:id}/raffle",
            enter_raffle,
            methods=["POST"],
            name="store.enter_raffle",
        ),
        Route("/store/orders", my_orders, methods=["GET"], name="store.my_orders"),
        Route("/store/addresses", my_addresses, methods=["GET"], name="store.my_addresses"),
        Route(
            "/store/addresses/{id:id}/forget",
            forget_address,
            methods=["POST"],
            name="store.forget_address",
        ),
        Route("/store/orders/{id:id}", order_page, methods=["GET"], name="store.order_page"),
        Route(
            "/store/orders/{id:id}/receipt",
            receipt_page,
            methods=["GET"],
            name="store.receipt_page",
        ),
        Route(
            "/store/orders/{id:id}/refund-request",
            ask_refund,
            methods=["POST"],
            name="store.ask_refund",
        ),
        *payment_pages.checkout_routes("store", "/store/orders/{id:id}", ORDERS),
        Route("/store/orders/{id:id}/cancel", cancel, methods=["POST"], name="store.cancel"),
        Route(
            "/store/orders/{id:id}/invoice",
            ask_invoice,
            methods=["POST"],
            name="store.ask_invoice",
        ),
        Route(
            "/store/orders/{id:id}/invoice.pdf",
            invoice_pdf,
            methods=["GET"],
            name="store.invoice_pdf",
        ),
        Route("/store/divisions.json", divisions_json, methods=["GET"], name="store.divisions"),
        Route(
            "/store/orders/{id:id}/received",
            confirm_receipt,
            methods=["POST"],
            name="store.confirm_received",
        ),
    ]
