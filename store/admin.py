"""The console's catalogue (/admin/catalogue): every product, a new one, and each product's page
to edit it, change its stock and picture, publish or take it down, or delete it. Drops and
orders have their own modules (store.admin_drops, store.admin_orders); routes() gives all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from errors import DomainError, ValidationError
from store import admin_drops, admin_orders, services
from store.admin_forms import (
    create_from_form,
    form_errors,
    form_text,
    product_text,
    read_changes,
    read_upload,
)
from store.errors import ProductHasOrders, ProductNotFound, StockBelowCommitted
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.errors import in_reader_language
from web.rendering import flash, gettext_for, redirect_after_post, render


@staff_only(Capability.CATALOGUE)
async def catalogue(request: Request) -> Response:
    return await catalogue_page(request)


async def catalogue_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    products = await services.newest_products(limit=200)
    left = await services.stock_left_of(products)
    return await render(
        request,
        "store/admin_catalogue.html",
        {
            "products": [(p, left[p.id]) for p in products],
            "errors": errors or {},
            "values": values or {"member_head_start_minutes": "0"},
        },
        status_code=422 if errors else 200,
    )


@staff_only(Capability.CATALOGUE)
async def create_product(request: Request) -> Response:
    text, picture = await read_upload(request)
    try:
        product = await create_from_form(request, text, picture)
    except ValidationError as exc:
        return await catalogue_page(request, errors=form_errors(exc), values=text)
    flash(request, gettext_for(request)("The product was created."), "success")
    return redirect_after_post(request, links.path("store.admin.product", id=product.id))


async def edit_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    product = await services.get_product(request.path_params["id"])
    now = datetime.now(UTC)
    ordered = await services.ever_ordered(product.id)
    sale = services.sale_state(product, None, now)
    return await render(
        request,
        "store/admin_product.html",
        {
            "product": product,
            "stock_left": await services.stock_left(product),
            "values": product_text(product) | (values or {}),
            "errors": errors or {},
            "ordered": ordered,
            "times_locked": services.sale_has_opened(product, now),
            "raffle_locked": ordered or product.raffle_drawn_at is not None,
            "state": sale.state.value,
        },
        status_code=status_code,
    )


@staff_only(Capability.CATALOGUE)
async def product_page(request: Request) -> Response:
    return await edit_page(request)


def _refused(request: Request, exc: DomainError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return form_errors(exc)
    return {"form": in_reader_language(request, exc)}


async def _change(
    request: Request, changes: dict[str, Any], *, values: dict[str, str] | None = None
) -> Response | None:
    """update_product from a console form: None when done, else the page with the refusal."""
    try:
        await services.update_product(
            request.path_params["id"],
            changes,
            actor=staff_member(request),
            now=datetime.now(UTC),
            memory=request.app.state.memory.store,
        )
    except DomainError as exc:
        if isinstance(exc, ProductNotFound):
            raise
        return await edit_page(
            request, errors=_refused(request, exc), values=values, status_code=exc.status
        )
    return None


@staff_only(Capability.CATALOGUE)
async def save_product(request: Request) -> Response:
    text = form_text(await read_form(request))
    product = await services.get_product(request.path_params["id"])
    try:
        changes = read_changes(text, product)
    except ValidationError as exc:
        return await edit_page(request, errors=form_errors(exc), values=text, status_code=422)
    refused = await _change(request, changes, values=text)
    if refused is not None:
        return refused
    flash(request, gettext_for(request)("Saved."), "success")
    return redirect_after_post(request, links.path("store.admin.product", id=product.id))


@staff_only(Capability.CATALOGUE)
async def set_published(request: Request) -> Response:
    form = await read_form(request)
    published = str(form.get("published", "")) == "1"
    refused = await _change(request, {"published": published})
    if refused is not None:
        return refused
    _ = gettext_for(request)
    flash(
        request,
        _("Published: it is in the store.") if published else _("Taken down from the store."),
        "success",
    )
    return redirect_after_post(
        request, links.path("store.admin.product", id=request.path_params["id"])
    )


def _back_to_product(request: Request) -> Response:
    return redirect_after_post(
        request, links.path("store.admin.product", id=request.path_params["id"])
    )


def _signed_whole(text: str) -> int:
    cleaned = text.strip()
    digits = cleaned[1:] if cleaned[:1] in ("+", "-") else cleaned
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise ValidationError("change", "must be a whole number, e.g. 10 or -5")
    return int(cleaned)


@staff_only(Capability.CATALOGUE)
async def change_stock(request: Request) -> Response:
    text = form_text(await read_form(request))
    try:
        stock, left = await services.change_stock(
            request.path_params["id"],
            _signed_whole(text.get("change", "")),
            actor=staff_member(request),
            now=datetime.now(UTC),
            memory=request.app.state.memory.store,
        )
    except (ValidationError, StockBelowCommitted) as exc:
        errors = {"change": in_reader_language(request, exc, with_field=False)}
        return await edit_page(
            request, errors=errors, values={"change": text.get("change", "")},
            status_code=exc.status,
        )  # fmt: skip
    message = gettext_for(request)("Stock is now %(stock)d, %(left)d of them left.")
    flash(request, message % {"stock": stock, "left": left}, "success")
    return redirect_after_post(
        request, links.path("store.admin.product", id=request.path_params["id"])
    )


@staff_only(Capability.CATALOGUE)
async def set_image(request: Request) -> Response:
    _text, picture = await read_upload(request)
    try:
        await services.set_product_image(
            product_id=request.path_params["id"],
            data=picture,
            pictures=request.app.state.pictures,
            actor=staff_member(request),
            now=datetime.now(UTC),
            memory=request.app.state.memory.store,
        )
    except ValidationError as exc:
        return await edit_page(request, errors=form_errors(exc), status_code=422)
    flash(request, gettext_for(request)("The picture was saved."), "success")
    return redirect_after_post(
        request, links.path("store.admin.product", id=request.path_params["id"])
    )


@staff_only(Capability.CATALOGUE)
async def delete_product(request: Request) -> Response:
    await read_form(request)
    try:
        await services.delete_product(
            request.path_params["id"],
            actor=staff_member(request),
            now=datetime.now(UTC),
            memory=request.app.state.memory.store,
        )
    except ProductHasOrders as exc:
        errors = {"delete": in_reader_language(request, exc)}
        return await edit_page(request, errors=errors, status_code=exc.status)
    flash(request, gettext_for(request)("The product was deleted."), "success")
    return redirect_after_post(request, links.path("store.admin.catalogue"))


def routes() -> list[BaseRoute]:
    """The store's console routes, built when the app factory asks (after `{id:id}` is
    known): the catalogue's, then the drops' and the orders'."""
    product = "/admin/catalogue/products/{id:id}"
    return [
        Route("/admin/catalogue", catalogue, methods=["GET"], name="store.admin.catalogue"),
        Route(
            "/admin/catalogue/products",
            create_product,
            methods=["POST"],
            name="store.admin.create_product",
        ),
        Route(product, product_page, methods=["GET"], name="store.admin.product"),
        Route(product, save_product, methods=["POST"], name="store.admin.save_product"),
        Route(f"{product}/stock", change_stock, methods=["POST"], name="store.admin.stock"),
        Route(f"{product}/published", set_published, methods=["POST"], name="store.admin.publish"),
        Route(f"{product}/image", set_image, methods=["POST"], name="store.admin.image"),
        Route(f"{product}/delete", delete_product, methods=["POST"], name="store.admin.delete"),
        *admin_drops.routes(),
        *admin_orders.routes(),
    ]
