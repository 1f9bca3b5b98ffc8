"""Drops: the people waiting for a sale to open, told when it opens for them; the drops staff
look after."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count

import links
from accounts import notices
from accounts.models import User
from store.catalog import shown_product
from store.models import DropReminder, Product, RaffleEntry
from store.sale import sale_opens_for


async def remind_me(*, product_id: int, user: User, now: datetime) -> bool:
    """Ask to be told when a drop opens; False if it is already open (nothing to wait for)."""
    product = await shown_product(product_id, user)
    opens = sale_opens_for(product, user, now)
    if opens is None or opens <= now:
        return False
    await DropReminder.get_or_create(product_id=product.id, user_id=user.id)
    return True


async def send_drop_reminders(*, now: datetime) -> int:
    """Tell everyone waiting for a drop that opened (for them: members with a head start first).
    A drop taken down (unpublished) waits: its reminders go out if it is published again."""
    sent = 0
    for reminder in await DropReminder.filter(
        notified_at__isnull=True, product__published=True
    ).select_related("product", "user"):
        opens = sale_opens_for(reminder.product, reminder.user, now)
        if opens is not None and opens > now:
            continue
        claimed = await DropReminder.filter(id=reminder.id, notified_at__isnull=True).update(
            notified_at=now
        )
        if claimed:
            await notices.notify(
                reminder.user.id,
                kind="drop_open",
                params={"title": reminder.product.title, "product": reminder.product.id},
                link=links.path("store.product_page", id=reminder.product.id),
            )
            sent += 1
    return sent


async def drops_for_staff(*, limit: int = 200) -> list[Product]:
    """Drops, newest first: products with a sale time, a per-customer limit or a raffle,
    unpublished ones included (the console's drops page)."""
    return await (
        Product.filter(
            Q(sale_starts_at__isnull=False)
            | Q(per_customer_limit__isnull=False)
            | Q(raffle_entries_until__isnull=False)
        )
        .select_related("category")
        .order_by("-id")
        .limit(limit)
    )


async def raffle_entries_of(products: list[Product]) -> dict[int, int]:
    """How many entered each raffle among `products`, in one query."""
    rows = (
        await RaffleEntry.filter(product_id__in=[p.id for p in products])
        .annotate(entries=Count("id"))
        .group_by("product_id")
        .values("product_id", "entries")
    )
    return {row["product_id"]: row["entries"] for row in rows}
