"""Views of the store's product pages: per product and day, per signed-in person and day, and
per minute around a drop's opening (its funnel's first step); counted in memory (tallies)."""

from __future__ import annotations

from datetime import datetime

from accounts import activity
from store.models import Product
from tallies import Tally, TallyTable, minute_of, near_opening, shanghai_day

PRODUCT_DAYS = TallyTable("store_product_day", keys=("product_id", "day"), counts=("views",))
PRODUCT_MINUTES = TallyTable(
    "store_product_minute", keys=("product_id", "minute"), counts=("views",)
)


def count_product_view(tally: Tally, product: Product, user_id: int | None, now: datetime) -> None:
    """A product's page was read (the page or the API's product): one view."""
    tally.add(PRODUCT_DAYS, (product.id, shanghai_day(now)), "views")
    activity.record(tally, user_id, activity.STORE_VIEW, now=now)
    if near_opening(product.sale_starts_at, now):
        tally.add(PRODUCT_MINUTES, (product.id, minute_of(now)), "views")
