"""The store API's declared shapes: products, orders and paying for them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from payments.schemas import PaymentAnswer, PaymentChoice
from store import services
from store.models import OrderStatus
from web.api import Answer, Body, Id, Moment, Query, line, text, whole

__all__ = ["PaymentAnswer", "PaymentChoice"]

Minutes = Annotated[int, whole(0, 7 * 24 * 60)]


class NewProduct(Body):
    title: Annotated[str, line(120, min_length=1)]
    description: Annotated[str, text(5000)]
    category: Annotated[str, line(40, min_length=1)]
    price_fen: Annotated[int, whole(1, services.MAX_PRICE_FEN)]
    stock: Annotated[int, whole(0, services.MAX_STOCK)]
    per_customer_limit: Annotated[int, whole(1, services.MAX_STOCK)] | None = None
    members_only: bool = False
    member_head_start_minutes: Minutes = 0
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    raffle_entries_until: (
        Annotated[
            Moment, msgspec.Meta(description="sell by raffle: entries until then, then a draw")
        ]
        | None
    ) = None
    raffle_purchase_minutes: Annotated[int, whole(1, 7 * 24 * 60)] = 60


class Wanted(Body):
    product_id: Id
    quantity: Annotated[int, whole(1, 100)] = 1


class NewOrder(Body):
    items: Annotated[list[Wanted], msgspec.Meta(min_length=1, max_length=services.MAX_ITEMS)]


class ListingQuery(Query):
    """The store page: "new this week" (the default), "hot", or one category."""

    view: Literal["new", "hot"] = "new"
    category: Annotated[str, line(40)] | None = None


class OrdersQuery(Query):
    """The admin's orders, all or of one status (OrderStatus's values)."""

    status: Literal[
        "", "pending_payment", "paid", "shipped", "delivered", "cancelled", "refunded"
    ] = ""


class ProductsQuery(Query):
    sort: Literal["new", "hot"] = "new"
    category: Annotated[str, line(40)] | None = None
    cursor: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,6}$")] | None = None


class Product(Answer):
    id: int
    title: str
    category: str
    price_fen: int
    stock_left: int
    sale_starts_at: str | None
    sale_ends_at: str | None
    members_only: bool
    per_customer_limit: int | None
    member_head_start_minutes: int
    description: str
    raffle_entries_until: str | None
    raffle_drawn_at: str | None
    raffle_seed: str | None
    image_url: str | None
    thumbnail_url: str | None


class Products(Answer):
    items: list[Product]
    next_cursor: str | None


class HeldOrder(Answer):
    id: int
    status: OrderStatus
    total_fen: int
    hold_expires_at: str


class OrderItem(Answer):
    product_id: int
    title: str
    quantity: int
    unit_price_fen: int


class Order(HeldOrder):
    items: list[OrderItem]
    tracking_number: str | None


class Cancelled(Answer):
    id: int
    status: OrderStatus


class Entries(Answer):
    entries: int


class Draw(Answer):
    seed: str
    entries: int
    winners: list[int]


IMAGE_UPLOAD = {
    "type": "object",
    "properties": {"image": {"type": "string", "format": "binary"}},
    "required": ["image"],
}
