"""Raffle drops: entries while they are open, a reproducible draw, winners told to buy."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from changes import PRODUCT, announce
from store.catalog import get_product
from store.errors import MembersOnly, NotARaffle, NotStarted, ProductNotFound, RaffleClosed
from store.memory import StoreMemory
from store.models import Product, RaffleEntry
from store.sale import SaleState, sale_state

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def enter_raffle(*, product_id: int, user: User, now: datetime) -> int:
    """Enter a raffle drop during its entry period; returns how many have entered.

    Entering twice is harmless. Raises ProductNotFound (also for an unpublished product),
    NotARaffle, RaffleClosed, MembersOnly.
    """
    product = await get_product(product_id)
    if product.raffle_entries_until is None:
        raise NotARaffle()
    if now >= product.raffle_entries_until or product.raffle_drawn_at is not None:
        raise RaffleClosed()
    state = sale_state(product, user, now).state
    if state == SaleState.UNPUBLISHED:
        raise ProductNotFound()
    if state == SaleState.MEMBERS_ONLY:
        raise MembersOnly()
    await RaffleEntry.get_or_create(product_id=product.id, user_id=user.id)
    return await RaffleEntry.filter(product_id=product.id).count()


@dataclass(frozen=True)
class Draw:
    seed: str
    entries: int
    winners: list[int]  # user ids


def pick_winners(entrant_ids: list[int], *, places: int, seed: str) -> list[int]:
    """The draw itself: the same seed and entrants always give the same winners (auditable)."""
    ordered = sorted(entrant_ids)
    return sorted(random.Random(seed).sample(ordered, k=min(places, len(ordered))))  # nosec B311  # a reproducible draw from a recorded secrets seed


async def draw_raffle(
    *,
    product_id: int,
    now: datetime,
    seed: str | None = None,
    memory: StoreMemory | None = None,
    actor: User | None = None,
) -> Draw:
    """Draw a raffle once its entries closed: as many winners as the stock allows at the
    per-customer limit, with a recorded seed; winners are told in their inbox. Audit:
    "raffle.draw" by `actor` (None: the app's own draw when entries close), with the seed,
    the number of entries and the winners.

    Raises ProductNotFound, NotARaffle, NotStarted (entries still open), RaffleClosed (drawn).
    """
    product = await get_product(product_id)
    if product.raffle_entries_until is None:
        raise NotARaffle()
    if now < product.raffle_entries_until:
        raise NotStarted("Raffle entries are still open.")
    seed = seed or secrets.token_hex(16)
    async with in_transaction():
        claimed = await Product.filter(id=product.id, raffle_drawn_at__isnull=True).update(
            raffle_drawn_at=now, raffle_seed=seed
        )
        if not claimed:
            raise RaffleClosed("The raffle has already been drawn.")
        entrants = await RaffleEntry.filter(product_id=product.id).values_list("user_id", flat=True)
        places = product.stock // (product.per_customer_limit or 1)
        winners = pick_winners([int(u) for u in entrants], places=places, seed=seed)  # type: ignore[call-overload]
        await RaffleEntry.filter(product_id=product.id, user_id__in=winners).update(won=True)
        until = now + timedelta(minutes=product.raffle_purchase_minutes)
        for user_id in winners:
            await notices.notify(
                user_id,
                kind="raffle_won",
                params={
                    "title": product.title,
                    "time": f"{until.astimezone(SHANGHAI):%H:%M}",
                    "product": product.id,
                },
                link=links.path("store.product_page", id=product.id),
            )
        await audit.record(
            actor=actor,
            action="raffle.draw",
            object_type="product",
            object_id=product.id,
            before={"raffle_drawn_at": None},
            after={
                "raffle_drawn_at": now,
                "raffle_seed": seed,
                "entries": len(entrants),
                "winners": winners,
            },
            now=now,
        )
    if memory is not None:
        memory.forget(product.id)
    await announce(PRODUCT, product.id)
    return Draw(seed=seed, entries=len(entrants), winners=winners)


async def draw_due_raffles(*, now: datetime, memory: StoreMemory | None = None) -> int:
    """Draw every raffle whose entries have closed (the store's background task calls this).
    A raffle taken down (unpublished) is not drawn until it is published again: its winners
    could not buy."""
    drawn = 0
    for product in await Product.filter(
        raffle_entries_until__lte=now, raffle_drawn_at__isnull=True, published=True
    ):
        try:
            await draw_raffle(product_id=product.id, now=now, memory=memory)
            drawn += 1
        except RaffleClosed:
            continue  # another worker drew it first
    return drawn
