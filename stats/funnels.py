"""A sale's opening minute by minute: how many people looked (viewed), took a seat or units
(held) and paid, for an enrollment window or a drop, from FUNNEL_BEFORE before its opening to
FUNNEL_AFTER after it; and the live state of a sale now (stats.live streams it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from membership.errors import WindowNotFound
from membership.models import Enrollment, EnrollmentWindow, WindowMinute
from membership.windows import closing_time
from store.errors import ProductNotFound
from store.models import Order, Product, ProductMinute
from tallies import funnel_minutes, minute_of


class SaleKind(StrEnum):
    WINDOW = "window"  # an enrollment window: seats
    DROP = "drop"  # a product with a sale start: units


@dataclass(frozen=True)
class Sale:
    kind: SaleKind
    id: int
    title: str
    opens_at: datetime
    closes_at: datetime | None


@dataclass(frozen=True)
class FunnelMinute:
    at: datetime  # the minute's start, UTC
    viewed: int
    held: int
    paid: int


@dataclass(frozen=True)
class Funnel:
    sale: Sale
    minutes: list[FunnelMinute]


def window_sale(window: EnrollmentWindow) -> Sale:
    return Sale(SaleKind.WINDOW, window.id, window.name, window.opens_at, closing_time(window))


def drop_sale(product: Product) -> Sale:
    assert product.sale_starts_at is not None  # a drop has a sale start
    return Sale(
        SaleKind.DROP, product.id, product.title, product.sale_starts_at, product.sale_ends_at
    )


async def find_sale(kind: str, sale_id: int) -> Sale:
    """The window or drop. Raises WindowNotFound or ProductNotFound (a product with no sale
    start is no drop)."""
    if kind == SaleKind.WINDOW:
        window = await EnrollmentWindow.get_or_none(id=sale_id)
        if window is None:
            raise WindowNotFound()
        return window_sale(window)
    product = await Product.get_or_none(id=sale_id) if kind == SaleKind.DROP else None
    if product is None or product.sale_starts_at is None:
        raise ProductNotFound()
    return drop_sale(product)


def per_minute(times: Iterable[datetime | None]) -> Counter[datetime]:
    return Counter(minute_of(at) for at in times if at is not None)


async def funnel(kind: str, sale_id: int) -> Funnel:
    """Viewed, held and paid per minute around the sale's opening (FUNNEL_BEFORE before it,
    FUNNEL_AFTER after). Viewed: page views in that minute (counted only in that span); held:
    holds made (a seat held, an order placed), whatever became of them; paid: holds paid in
    that minute. Raises as find_sale."""
    sale = await find_sale(kind, sale_id)
    span = funnel_minutes(sale.opens_at)
    start, end = span[0], span[-1] + timedelta(minutes=1)
    viewed: Counter[datetime]
    if sale.kind == SaleKind.WINDOW:
        views = await WindowMinute.filter(
            window_id=sale.id, minute__gte=start, minute__lt=end
        ).values_list("minute", "views")
        holds = await Enrollment.filter(
            window_id=sale.id, created_at__gte=start, created_at__lt=end
        ).values_list("created_at", "paid_at")
    else:
        views = await ProductMinute.filter(
            product_id=sale.id, minute__gte=start, minute__lt=end
        ).values_list("minute", "views")
        # Distinct orders, not distinct times: two orders placed in the same instant are two.
        orders = (
            await Order.filter(items__product_id=sale.id, created_at__gte=start, created_at__lt=end)
            .distinct()
            .values_list("id", "created_at", "paid_at")
        )
        holds = [(created, paid_at) for _, created, paid_at in orders]
    viewed = Counter()
    for minute, n in views:
        viewed[minute_of(minute)] += n
    held = per_minute(created for created, _ in holds)
    paid = per_minute(paid_at for _, paid_at in holds if paid_at is not None and paid_at < end)
    minutes = [FunnelMinute(at, viewed[at], held[at], paid[at]) for at in span]
    return Funnel(sale, minutes)
