"""The store's catalog: categories, products and their stock, listings, pictures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from accounts.roles import Capability
from errors import ValidationError
from store.errors import ProductNotFound
from store.models import Category, OrderItem, OrderStatus, Product, StockUnit
from store.shipping import MAX_SHIPPING_FEE_FEN

NEW_THIS_WEEK_DAYS = 7  # the store page's "本周新品"
HOT_WINDOW = timedelta(days=7)
MAX_STOCK = 100_000
MAX_PRICE_FEN = 10_000_000
MAX_MINUTES = 7 * 24 * 60
# A product's fields as the audit log records them (its category by name, beside these).
RECORDED_FIELDS = (
    "title",
    "description",
    "price_fen",
    "stock",
    "per_customer_limit",
    "members_only",
    "member_head_start_minutes",
    "sale_starts_at",
    "sale_ends_at",
    "raffle_entries_until",
    "raffle_purchase_minutes",
    "requires_shipping",
    "shipping_fee_fen",
    "published",
    "image",
)
SOLD_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def _whole(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(field, f"must be a whole number from {low} to {high}")
    return value


def _moment(field: str, value: object) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValidationError(field, "must be a date and time with its time zone")
    return value


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "title": lambda field, value: _title(value),
    "description": lambda field, value: _description(value),
    "category": lambda field, value: value,  # checked by category_named
    "price_fen": lambda field, value: _whole(field, value, 1, MAX_PRICE_FEN),
    "stock": lambda field, value: _whole(field, value, 0, MAX_STOCK),
    "per_customer_limit": lambda field, value: (
        None if value is None else _whole(field, value, 1, MAX_STOCK)
    ),
    "members_only": _flag,
    "member_head_start_minutes": lambda field, value: _whole(field, value, 0, MAX_MINUTES),
    "sale_starts_at": _moment,
    "sale_ends_at": _moment,
    "raffle_entries_until": _moment,
    "raffle_purchase_minutes": lambda field, value: _whole(field, value, 1, MAX_MINUTES),
    "requires_shipping": _flag,
    "shipping_fee_fen": lambda field, value: _whole(field, value, 0, MAX_SHIPPING_FEE_FEN),
    "published": _flag,
}


def _title(value: object) -> str:
    clean = " ".join(str(value).split())
    if not clean or len(clean) > 120:
        raise ValidationError("title", "must be 1 to 120 characters")
    return clean


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > 5000:
        raise ValidationError("description", "must be at most 5000 characters")
    return value


def checked_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (product fields by name, any of them) checked and tidied as a product keeps
    them: the one check create_product and update_product share. Raises ValidationError
    naming the field (an unknown name is one too)."""
    checked = {}
    for name, value in values.items():
        check = _CHECKS.get(name)
        if check is None:
            raise ValidationError(name, "is not a field of a product")
        checked[name] = check(name, value)
    return checked


def check_sale_times(starts: datetime | None, ends: datetime | None) -> None:
    """A sale's window is half-open and not empty. Raises ValidationError("sale_ends_at")."""
    if starts and ends and ends <= starts:
        raise ValidationError("sale_ends_at", "must be after sale_starts_at")


async def category_named(name: str) -> Category:
    """The category called `name`, created on first use (admins name categories freely)."""
    clean = " ".join(str(name).split())
    if not clean or len(clean) > 40:
        raise ValidationError("category", "must be 1 to 40 characters")
    category, _ = await Category.get_or_create(name=clean)
    return category


async def create_product(
    *,
    title: str,
    description: str,
    category: str,
    price_fen: int,
    stock: int,
    per_customer_limit: int | None = None,
    members_only: bool = False,
    member_head_start_minutes: int = 0,
    sale_starts_at: datetime | None = None,
    sale_ends_at: datetime | None = None,
    raffle_entries_until: datetime | None = None,
    raffle_purchase_minutes: int = 60,
    requires_shipping: bool = True,
    shipping_fee_fen: int = 0,
    published: bool = True,
    actor: User | None = None,
    now: datetime | None = None,
) -> Product:
    """A product and its stock units (Product.stock of them: the invariant change_stock
    keeps), recorded in the audit log as "product.create" by `actor` (None: the command
    line, the demo). Raises ValidationError naming the field."""
    fields = checked_fields(
        {
            "title": title,
            "description": description,
            "category": category,
            "price_fen": price_fen,
            "stock": stock,
            "per_customer_limit": per_customer_limit,
            "members_only": members_only,
            "member_head_start_minutes": member_head_start_minutes,
            "sale_starts_at": sale_starts_at,
            "sale_ends_at": sale_ends_at,
            "raffle_entries_until": raffle_entries_until,
            "raffle_purchase_minutes": raffle_purchase_minutes,
            "requires_shipping": requires_shipping,
            "shipping_fee_fen": shipping_fee_fen,
            "published": published,
        }
    )
    check_sale_times(sale_starts_at, sale_ends_at)
    async with in_transaction():
        fields["category"] = await category_named(category)
        product = await Product.create(**fields)
        await StockUnit.bulk_create(
            [StockUnit(product_id=product.id, number=n) for n in range(1, stock + 1)],
            batch_size=2000,
        )
        await audit.record(
            actor=actor,
            action="product.create",
            object_type="product",
            object_id=product.id,
            after=product_record(product),
            now=now,
        )
    return product


def product_record(product: Product) -> dict[str, Any]:
    """A product as the audit log keeps it (its category loaded or just set)."""
    return {
        **audit.snapshot(product, RECORDED_FIELDS),
        "category": product.category.name,
    }


async def get_product(product_id: int) -> Product:
    """A product, published or not (staff pages and services). Raises ProductNotFound."""
    product = await Product.get_or_none(id=product_id).select_related("category")
    if product is None:
        raise ProductNotFound()
    return product


def may_preview(viewer: User | None) -> bool:
    """Whether `viewer` sees unpublished products: staff who may change the catalogue."""
    return viewer is not None and viewer.may(Capability.CATALOGUE)


async def shown_product(product_id: int, viewer: User | None) -> Product:
    """A product as the store shows it to `viewer` (None: a visitor): an unpublished one is
    not there, except for staff who may change the catalogue. Raises ProductNotFound."""
    product = await get_product(product_id)
    if not product.published and not may_preview(viewer):
        raise ProductNotFound()
    return product


async def stock_left_of(products: list[Product]) -> dict[int, int]:
    """Units left of each product, in one query (listings show many products at once)."""
    rows = (
        await StockUnit.filter(product_id__in=[p.id for p in products], order_id__isnull=True)
        .annotate(left=Count("id"))
        .group_by("product_id")
        .values("product_id", "left")
    )
    left = {row["product_id"]: row["left"] for row in rows}
    return {p.id: left.get(p.id, 0) for p in products}


async def stock_left(product: Product) -> int:
    return await StockUnit.filter(product_id=product.id, order_id__isnull=True).count()


async def list_products(
    *,
    now: datetime,
    category: str | None = None,
    sort: str = "new",
    new_within_days: int | None = None,
    limit: int = 30,
    cursor: int = 0,
) -> tuple[list[Product], int | None]:
    """Published products newest first ("new") or by units paid in the last 7 days ("hot"),
    only those added in the last `new_within_days` when given ("new this week" is 7); offset
    cursor."""
    query = Product.filter(published=True).select_related("category")
    if category:
        query = query.filter(category__name=category)
    if new_within_days is not None:
        query = query.filter(created_at__gte=now - timedelta(days=new_within_days))
    if sort == "hot":
        since = now - HOT_WINDOW
        sold = (
            await OrderItem.filter(order__status__in=list(SOLD_STATUSES), order__paid_at__gte=since)
            .annotate(units=Sum("quantity"))
            .group_by("product_id")
            .values("product_id", "units")
        )
        heat = {row["product_id"]: row["units"] or 0 for row in sold}
        products = sorted(await query, key=lambda p: (-heat.get(p.id, 0), -p.id))
    else:
        products = await query.order_by("-created_at", "-id")
    page = products[cursor : cursor + limit]
    next_cursor = cursor + limit if len(products) > cursor + limit else None
    return page, next_cursor


async def listing(
    *, now: datetime, view: str = "new", category: str | None = None, limit: int = 60
) -> list[Product]:
    """The store page: "new" is what was added this week, newest first, unless a category is
    chosen (then everything in it, newest first); "hot" ranks by units paid in the last week."""
    products, _ = await list_products(
        now=now,
        category=category,
        sort="hot" if view == "hot" else "new",
        new_within_days=NEW_THIS_WEEK_DAYS if view == "new" and not category else None,
        limit=limit,
    )
    return products


async def next_drop(now: datetime) -> Product | None:
    """The drop whose sale opens soonest after `now` (a raffle's entries count as its sale)."""
    return await (
        Product.filter(sale_starts_at__gt=now, published=True)
        .select_related("category")
        .order_by("sale_starts_at", "id")
        .first()
    )


async def categories() -> list[Category]:
    """The store's categories in the order they are shown."""
    return await Category.all().order_by("position", "name")


async def newest_products(*, limit: int = 100) -> list[Product]:
    """The latest products with their categories, newest first, unpublished ones included
    (the console's list)."""
    return await Product.all().select_related("category").order_by("-id").limit(limit)


async def products_for_staff(
    *, before: int | None = None, limit: int = 50
) -> tuple[list[Product], int | None]:
    """Every product, unpublished ones included, newest first, `limit` at a time: the page
    after the one that ended with id `before`; with the next page's `before`, if any."""
    query = Product.all().select_related("category")
    if before is not None:
        query = query.filter(id__lt=before)
    found = await query.order_by("-id").limit(limit + 1)
    page = found[:limit]
    return page, page[-1].id if len(found) > limit else None
