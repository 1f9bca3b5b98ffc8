"""The buyer's address book: every distinct address a paid order shipped to, newest used
first, offered again at checkout. Remembered when the order is paid (store.fulfilment), so an
address typed for an order never paid is not kept."""

from __future__ import annotations

import hashlib
from datetime import datetime

from tortoise.exceptions import IntegrityError

from accounts.models import User
from store.errors import AddressNotFound
from store.models import Order, SavedAddress

KEPT = 5  # addresses offered at checkout
LISTED = 100  # addresses shown on the buyer's page of them


def _key(fields: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


async def remember(order: Order, *, now: datetime) -> None:
    """Keep the structured address of a paid order (a free-text line from before structured
    addresses is not kept); an address kept already is marked used now."""
    fields = (
        order.ship_name,
        order.ship_phone,
        order.ship_province,
        order.ship_city,
        order.ship_district,
        order.ship_address,
    )
    if any(not part for part in fields):
        return
    parts: tuple[str, ...] = tuple(str(part) for part in fields)
    key = _key(parts)
    user_id = order.user_id  # type: ignore[attr-defined]
    if await SavedAddress.filter(user_id=user_id, key=key).update(used_at=now):
        return
    name, phone, province, city, district, address = parts
    try:
        await SavedAddress.create(
            user_id=user_id,
            key=key,
            name=name,
            phone=phone,
            province=province,
            city=city,
            district=district,
            address=address,
            used_at=now,
        )
    except IntegrityError:  # the same address, remembered by a concurrent payment
        await SavedAddress.filter(user_id=user_id, key=key).update(used_at=now)


async def addresses_of(user: User) -> list[SavedAddress]:
    return await SavedAddress.filter(user_id=user.id).order_by("-used_at").limit(KEPT)


async def saved_addresses(user: User) -> list[SavedAddress]:
    """Every address the buyer has kept, newest used first (checkout offers the first KEPT)."""
    return await SavedAddress.filter(user_id=user.id).order_by("-used_at").limit(LISTED)


async def forget(user: User, address_id: int) -> None:
    """Forget one of the buyer's saved addresses (orders keep the address they shipped to).
    Raises AddressNotFound for one that is not the buyer's, or is gone."""
    if not await SavedAddress.filter(id=address_id, user_id=user.id).delete():
        raise AddressNotFound()
