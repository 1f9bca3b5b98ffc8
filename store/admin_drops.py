"""The console's drops (/admin/drops): limited drops and raffles with their state and countdown,
a raffle made from a form, and a raffle drawn now that its entries closed."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts.roles import Capability
from errors import ValidationError
from store import services
from store.admin_forms import create_from_form, form_errors, read_upload
from store.models import Product
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render


async def drops_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    now = datetime.now(UTC)
    drops = await services.drops_for_staff()
    left = await services.stock_left_of(drops)
    entries = await services.raffle_entries_of(drops)
    return await render(
        request,
        "store/admin_drops.html",
        {
            "drops": [
                {
                    "product": product,
                    "left": left[product.id],
                    "entries": entries.get(product.id, 0),
                    "state": services.sale_state(product, None, now).state.value,
                    # When the next thing happens: the sale opens (members first), or the
                    # raffle's entries close.
                    "next_at": _next_moment(product, now),
                }
                for product in drops
            ],
            "errors": errors or {},
            "values": values or {"raffle_purchase_minutes": "60", "stock": "1"},
        },
        status_code=422 if errors else 200,
    )


def _next_moment(product: Product, now: datetime) -> datetime | None:
    if product.raffle_entries_until is not None and product.raffle_drawn_at is None:
        return product.raffle_entries_until if product.raffle_entries_until > now else None
    opens = product.sale_starts_at
    return opens if opens is not None and opens > now else None


@staff_only(Capability.CATALOGUE)
async def drops(request: Request) -> Response:
    return await drops_page(request)


@staff_only(Capability.CATALOGUE)
async def create_raffle(request: Request) -> Response:
    text, picture = await read_upload(request)
    try:
        product = await create_from_form(request, text, picture, raffle=True)
    except ValidationError as exc:
        return await drops_page(request, errors=form_errors(exc), values=text)
    flash(request, gettext_for(request)("The raffle was created."), "success")
    return redirect_after_post(request, links.path("store.admin.product", id=product.id))


@staff_only(Capability.CATALOGUE)
async def draw(request: Request) -> Response:
    await read_form(request)
    on_error_back(request, links.path("store.admin.drops"))
    result = await services.draw_raffle(
        product_id=request.path_params["id"],
        now=datetime.now(UTC),
        memory=request.app.state.memory.store,
        actor=staff_member(request),
    )
    message = gettext_for(request)("Drawn: %(winners)d winners of %(entries)d entries.")
    flash(request, message % {"winners": len(result.winners), "entries": result.entries}, "success")
    return redirect_after_post(request, links.path("store.admin.drops"))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/drops", drops, methods=["GET"], name="store.admin.drops"),
        Route(
            "/admin/drops/raffles",
            create_raffle,
            methods=["POST"],
            name="store.admin.create_raffle",
        ),
        Route("/admin/drops/{id:id}/draw", draw, methods=["POST"], name="store.admin.draw_raffle"),
    ]
