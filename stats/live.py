"""The live state of a sale (an open window, a selling drop): what is left, what is held, and
what was paid in each of the last minutes; and which sales are live now. The console streams
it over server-sent events (stats.routes.live_events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from membership import windows
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow
from stats.funnels import Sale, SaleKind, drop_sale, find_sale, per_minute, window_sale
from store import catalog
from store.models import Order, OrderStatus, Product
from tallies import minute_of

PAID_MINUTES = 10  # the stream shows paid per minute over the last ten minutes
# A drop is shown as live from an hour before its sale starts until a day after (a sold-out
# drop stays on the board that day: the operator watches it reach zero).
DROP_BEFORE = timedelta(hours=1)
DROP_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class LiveState:
    sale: Sale
    at: datetime
    opened: bool  # the sale has begun (for a window: and has not closed)
    left: int  # seats or units anyone may still take
    holds: int  # held now, waiting for payment
    paid: list[tuple[datetime, int]]  # (minute, paid in it) for the last PAID_MINUTES minutes


async def live_sales(now: datetime) -> list[Sale]:
    """The sales worth watching now: the window that is open (or opens within the hour), and
    drops from an hour before their start to a day after it."""
    open_windows = await EnrollmentWindow.filter(
        opens_at__lte=now + DROP_BEFORE, closes_at__gt=now
    ).order_by("opens_at")
    drops = await Product.filter(
        sale_starts_at__gte=now - DROP_AFTER, sale_starts_at__lte=now + DROP_BEFORE
    ).order_by("sale_starts_at")
    return [
        *(window_sale(w) for w in open_windows if windows.closing_time(w) > now),
        *(drop_sale(product) for product in drops),
    ]


async def live_state(kind: str, sale_id: int, now: datetime) -> LiveState:
    """The sale as it stands at `now`. Raises as find_sale."""
    sale = await find_sale(kind, sale_id)
    since = minute_of(now) - timedelta(minutes=PAID_MINUTES - 1)
    until = minute_of(now) + timedelta(minutes=1)  # a `now` in the past sees no later payment
    if sale.kind == SaleKind.WINDOW:
        window = await windows.get_window(sale.id)
        left = await windows.seats_left(window, now=now)
        holds = await Enrollment.filter(
            window_id=sale.id,
            status=EnrollmentStatus.PENDING_PAYMENT,
            hold_expires_at__gt=now,
        ).count()
        paid_times = await Enrollment.filter(
            window_id=sale.id, paid_at__gte=since, paid_at__lt=until
        ).values_list("paid_at", flat=True)
    else:
        product = await Product.get(id=sale.id)
        left = await catalog.stock_left(product)
        holds = (
            await Order.filter(
                items__product_id=sale.id,
                status=OrderStatus.PENDING_PAYMENT,
                hold_expires_at__gt=now,
            )
            .distinct()
            .count()
        )
        # Distinct orders (an order of two lines of the drop is one), not distinct times: two
        # orders paid in the same instant are two.
        paid_orders = (
            await Order.filter(items__product_id=sale.id, paid_at__gte=since, paid_at__lt=until)
            .distinct()
            .values_list("id", "paid_at")
        )
        paid_times = [paid_at for _, paid_at in paid_orders]
    counted = per_minute(cast(list[datetime | None], paid_times))
    minutes = [since + timedelta(minutes=n) for n in range(PAID_MINUTES)]
    opened = sale.opens_at <= now and (sale.closes_at is None or now < sale.closes_at)
    return LiveState(
        sale=sale,
        at=now,
        opened=opened,
        left=left,
        holds=holds,
        paid=[(minute, counted[minute]) for minute in minutes],
    )


async def worth_streaming(state: LiveState) -> bool:
    """Whether the sale's page streams its state: while it is open or among the live sales
    (about to open, a drop on its first day); a sale long over is shown as it stands, with no
    stream asking the database every second."""
    if state.opened:
        return True
    return any(
        sale.kind == state.sale.kind and sale.id == state.sale.id
        for sale in await live_sales(state.at)
    )
