"""The store's catalog: categories, products and their stock, listings, pictures."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from errors import ValidationError
from pictures import PicturePool
from store.errors import ProductNotFound
from store.images import resize_upload, store_product_image
from store.memory import StoreMemory
from store.models import Category, OrderItem, OrderStatus, Product, StockUnit

NEW_THIS_WEEK_DAYS = 7  # the store page's "本周新品"
HOT_WINDOW = timedelta(days=7)
MAX_STOCK = 100_000
MAX_PRICE_FEN = 10_000_000
SOLD_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def _whole(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(field, f"must be a whole number from {low} to {high}")
    return value


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
) -> Product:
    """A product and its stock units. Raises ValidationError naming the field."""
    clean_title = " ".join(str(title).split())
    if not clean_title or len(clean_title) > 120:
        raise ValidationError("title", "must be 1 to 120 characters")
    if len(description) > 5000:
        raise ValidationError("description", "must be at most 5000 characters")
    _whole("price_fen", price_fen, 1, MAX_PRICE_FEN)
    _whole("stock", stock, 0, MAX_STOCK)
    if per_customer_limit is not None:
        _whole("per_customer_limit", per_customer_limit, 1, MAX_STOCK)
    _whole("member_head_start_minutes", member_head_start_minutes, 0, 7 * 24 * 60)
    if sale_starts_at and sale_ends_at and sale_ends_at <= sale_starts_at:
        raise ValidationError("sale_ends_at", "must be after sale_starts_at")
    _whole("raffle_purchase_minutes", raffle_purchase_minutes, 1, 7 * 24 * 60)
    async with in_transaction():
        product = await Product.create(
            title=clean_title,
            description=description,
            category=await category_named(category),
            price_fen=price_fen,
            stock=stock,
            per_customer_limit=per_customer_limit,
            members_only=members_only,
            member_head_start_minutes=member_head_start_minutes,
            sale_starts_at=sale_starts_at,
            sale_ends_at=sale_ends_at,
            raffle_entries_until=raffle_entries_until,
            raffle_purchase_minutes=raffle_purchase_minutes,
            requires_shipping=requires_shipping,
        )
        await StockUnit.bulk_create(
            [StockUnit(product_id=product.id, number=n) for n in range(1, stock + 1)],
            batch_size=2000,
        )
    return product


async def get_product(product_id: int) -> Product:
    product = await Product.get_or_none(id=product_id).select_related("category")
    if product is None:
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
    """Products newest first ("new") or by units paid in the last 7 days ("hot"), only those
    added in the last `new_within_days` when given ("new this week" is 7); offset cursor."""
    query = Product.all().select_related("category")
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
        Product.filter(sale_starts_at__gt=now)
        .select_related("category")
        .order_by("sale_starts_at", "id")
        .first()
    )


async def categories() -> list[Category]:
    """The store's categories in the order they are shown."""
    return await Category.all().order_by("position", "name")


async def newest_products(*, limit: int = 100) -> list[Product]:
    """The latest products with their categories, newest first (the admin's list)."""
    return await Product.all().select_related("category").order_by("-id").limit(limit)


async def set_product_image(
    *,
    product_id: int,
    data: bytes,
    media_dir: Path,
    pictures: PicturePool,
    memory: StoreMemory | None = None,
) -> Product:
    """Store an uploaded picture for a product (resized in the picture pool); raises
    ValidationError("image"), ProductNotFound, ServiceUnavailable (the pool is full)."""
    resized = await resize_upload(data, pictures)  # checked before anything is written
    product = await get_product(product_id)
    product.image = store_product_image(media_dir, product.id, resized)
    await product.save(update_fields=["image"])
    if memory is not None:
        memory.forget(product.id)
    return product
