"""What one worker remembers of the store between requests, in one object the app builds.

A rush asks for the same product thousands of times a second: products are kept for a second
(stock never is: units are claimed in the database), a product seen sold out is answered from
memory for a second, and each worker remembers where its last claim ended so the next look
starts past it. Tests make their own StoreMemory; nothing here is a module global.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from batches import StatementBatch
from store.models import Product

SOLD_OUT_SECONDS = 1.0
PRODUCT_SECONDS = 1.0
# The portable hold lets at most this many orders per worker into the database at once: the
# rest of a crowd waits here, cheaply, instead of piling up on the database's locks.
ADMISSION = 8

# store/sql/hold.sql
HOLD_ONE_SQL = "SELECT * FROM store_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"  # noqa: E501
HOLD_MANY_SQL = "SELECT * FROM store_hold_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"  # noqa: E501


def _hold_order(params: Sequence[Any]) -> tuple[int, int, str]:
    """By product, then buyer (user id, or token digest): two batches take allowance rows in
    the same order."""
    return (params[3], params[0] or 0, params[1] or "")


ProductKey = tuple[int, float]  # (id, created_at): a product made again under a reused id is new


def product_key(product: Product) -> ProductKey:
    return (product.id, product.created_at.timestamp())


@dataclass
class StoreMemory:
    """One worker's memory of the store (see the module docstring)."""

    # product id -> (kept until, monotonic; the product; its key)
    products: dict[int, tuple[float, Product, ProductKey]] = field(default_factory=dict)
    reading: set[int] = field(default_factory=set)  # products an order is reading right now
    sold_out_until: dict[ProductKey, float] = field(default_factory=dict)
    claimed_up_to: dict[ProductKey, int] = field(default_factory=dict)  # the last unit claimed
    # Holds of one product waiting to go to the database together (store.holds).
    hold_batch: StatementBatch = field(default_factory=lambda: StatementBatch(
        HOLD_ONE_SQL, HOLD_MANY_SQL, order=_hold_order
    ))  # fmt: skip
    admission: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(ADMISSION))

    async def products_for_order(self, product_ids: list[int]) -> dict[int, Product]:
        """The products, from memory when seen within the second; when one's second is up,
        one order reads it again while the others go on with the copy they have."""
        clock = time.monotonic()
        found: dict[int, Product] = {}
        missing = []
        for product_id in product_ids:
            kept = self.products.get(product_id)
            if kept is not None and (kept[0] > clock or product_id in self.reading):
                found[product_id] = kept[1]
            else:
                missing.append(product_id)
        if missing:
            self.reading.update(missing)
            try:
                for product in await Product.filter(id__in=missing):
                    self.products[product.id] = (
                        clock + PRODUCT_SECONDS,
                        product,
                        product_key(product),
                    )
                    found[product.id] = product
            finally:
                self.reading.difference_update(missing)
        return found

    def known_sold_out(self, product_ids: list[int]) -> str | None:
        """The title of a product seen sold out within the last second, if one of these is;
        when the memory has just lapsed, this caller is let through to look in the database
        while everyone else hears "sold out" for another second (one look per second)."""
        clock = time.monotonic()
        for product_id in product_ids:
            kept = self.products.get(product_id)
            if kept is None:
                continue
            key = kept[2]
            until = self.sold_out_until.get(key)
            if until is None:
                continue
            if until > clock:
                return kept[1].title
            if clock - until < SOLD_OUT_SECONDS:
                self.sold_out_until[key] = clock + SOLD_OUT_SECONDS  # this caller looks again
            else:
                del self.sold_out_until[key]  # long lapsed (nobody asked for a while)
        return None

    def remember_sold_out(self, product: Product) -> None:
        self.sold_out_until[product_key(product)] = time.monotonic() + SOLD_OUT_SECONDS

    def stock_came_back(self, product: Product) -> None:
        self.sold_out_until.pop(product_key(product), None)

    def forget(self, product_id: int | None = None) -> None:
        """Forget a product (every product when None): it changed."""
        if product_id is None:
            self.products.clear()
            self.sold_out_until.clear()
            self.claimed_up_to.clear()
            return
        self.products.pop(product_id, None)
        for key in [key for key in self.sold_out_until if key[0] == product_id]:
            del self.sold_out_until[key]
        for key in [key for key in self.claimed_up_to if key[0] == product_id]:
            del self.claimed_up_to[key]
