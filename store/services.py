"""The store's services, one import for its pages, its API and other packages.

Each rule lives in its own module: the catalog (store.catalog), whether a product is on sale
for someone (store.sale), holding stock (store.holds, the only code that knows the SQL of a
hold), orders and their payment (store.orders), what a settled payment does
(store.fulfilment), drops' reminders (store.drops) and raffles (store.raffles).
"""

from __future__ import annotations

from store import addresses as addresses
from store import refunds as refunds
from store.catalog import (
    HOT_WINDOW,
    MAX_PRICE_FEN,
    MAX_STOCK,
    NEW_THIS_WEEK_DAYS,
    categories,
    category_named,
    create_product,
    get_product,
    list_products,
    listing,
    newest_products,
    set_product_image,
    stock_left,
    stock_left_of,
)
from store.drops import remind_me, send_drop_reminders
from store.memory import StoreMemory
from store.orders import (
    BUY_REQUESTS,
    HOLD_FOR,
    MAX_ITEMS,
    PAYMENT_PURPOSE,
    SOLD_STATUSES,
    Wanted,
    cancel_order,
    has_address,
    held_order,
    mark_delivered,
    mark_shipped,
    order_events,
    order_for_user,
    order_items,
    order_payment,
    orders_for_admin,
    orders_of,
    pay_order,
    place_order,
    refund_order,
    release_expired_orders,
    set_shipping,
    shipping_json,
    ships,
)
from store.raffles import Draw, draw_due_raffles, draw_raffle, enter_raffle, pick_winners
from store.sale import (
    Sale,
    SaleState,
    check_can_buy,
    is_winner,
    open_to_everyone,
    sale_for,
    sale_opens_for,
    sale_state,
)
from store.shipping import PROVINCES, Address, check_address, tidy_phone

__all__ = [
    "BUY_REQUESTS",
    "HOLD_FOR",
    "HOT_WINDOW",
    "MAX_ITEMS",
    "MAX_PRICE_FEN",
    "MAX_STOCK",
    "NEW_THIS_WEEK_DAYS",
    "PAYMENT_PURPOSE",
    "PROVINCES",
    "SOLD_STATUSES",
    "Address",
    "Draw",
    "Sale",
    "SaleState",
    "StoreMemory",
    "Wanted",
    "cancel_order",
    "categories",
    "category_named",
    "check_address",
    "check_can_buy",
    "create_product",
    "draw_due_raffles",
    "draw_raffle",
    "enter_raffle",
    "get_product",
    "has_address",
    "held_order",
    "is_winner",
    "list_products",
    "listing",
    "mark_delivered",
    "mark_shipped",
    "newest_products",
    "open_to_everyone",
    "order_events",
    "order_for_user",
    "order_items",
    "order_payment",
    "orders_for_admin",
    "orders_of",
    "pay_order",
    "pick_winners",
    "place_order",
    "refund_order",
    "release_expired_orders",
    "remind_me",
    "sale_for",
    "sale_opens_for",
    "sale_state",
    "send_drop_reminders",
    "set_product_image",
    "set_shipping",
    "shipping_json",
    "ships",
    "stock_left",
    "stock_left_of",
    "tidy_phone",
]
