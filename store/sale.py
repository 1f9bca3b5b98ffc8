"""Whether a product is on sale for a person now: the one rule pages, services and holds use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from accounts.models import User
from membership.services import is_member
from store.errors import Ended, MembersOnly, NotAWinner, NotStarted, ProductNotFound
from store.models import Product, RaffleEntry


class SaleState(StrEnum):
    UNPUBLISHED = "unpublished"  # taken down: nobody may buy (staff preview it)
    OPEN = "open"  # this person may buy now
    UPCOMING = "upcoming"  # the sale (or this person's head start) has not begun
    ENDED = "ended"
    MEMBERS_ONLY = "members_only"  # only members may buy, and this person is not one
    RAFFLE = "raffle"  # a raffle drop taking entries
    DRAWING = "drawing"  # entries closed, winners not drawn yet
    WINNERS_ONLY = "winners_only"  # drawn: only winners buy, and this person is not one


@dataclass(frozen=True)
class Sale:
    """A product's sale as one person sees it: its state, and when it opens for them."""

    state: SaleState
    opens_at: datetime | None


def sale_opens_for(product: Product, user: User | None, now: datetime) -> datetime | None:
    """When this person may start buying: members get the head start."""
    if product.sale_starts_at is None:
        return None
    if user is not None and product.member_head_start_minutes and is_member(user, at=now):
        return product.sale_starts_at - timedelta(minutes=product.member_head_start_minutes)
    return product.sale_starts_at


def sale_state(product: Product, user: User | None, now: datetime, *, winner: bool = False) -> Sale:
    """The state of `product`'s sale for `user` (None: a visitor) at `now`, in this order:
    unpublished, members-only, the raffle, not started (members start at their head start),
    ended (times are half-open: open at the start, ended at the end)."""
    opens = sale_opens_for(product, user, now)
    if not product.published:
        return Sale(SaleState.UNPUBLISHED, opens)
    if product.members_only and (user is None or not is_member(user, at=now)):
        return Sale(SaleState.MEMBERS_ONLY, opens)
    if product.raffle_entries_until is not None:
        if product.raffle_drawn_at is None:
            state = SaleState.RAFFLE if now < product.raffle_entries_until else SaleState.DRAWING
        elif now >= product.raffle_drawn_at + timedelta(minutes=product.raffle_purchase_minutes):
            state = SaleState.ENDED
        else:
            state = SaleState.OPEN if winner else SaleState.WINNERS_ONLY
        return Sale(state, opens)
    if opens is not None and now < opens:
        return Sale(SaleState.UPCOMING, opens)
    if product.sale_ends_at is not None and now >= product.sale_ends_at:
        return Sale(SaleState.ENDED, opens)
    return Sale(SaleState.OPEN, opens)


async def is_winner(product: Product, user: User) -> bool:
    """Whether `user` was drawn in the product's raffle."""
    return await RaffleEntry.exists(product_id=product.id, user_id=user.id, won=True)


async def sale_for(product: Product, user: User | None, now: datetime) -> Sale:
    """sale_state for `user` (None: a visitor), with whether they won the product's raffle
    looked up (a drawn raffle only): what the product page and the API's product show."""
    winner = (
        user is not None and product.raffle_drawn_at is not None and await is_winner(product, user)
    )
    return sale_state(product, user, now, winner=winner)


def open_to_everyone(product: Product, now: datetime) -> bool:
    """Whether anyone signed in may buy now (no membership, head start or raffle matters):
    the orders that can be held before knowing who the buyer is."""
    return product.raffle_entries_until is None and (
        sale_state(product, None, now).state == SaleState.OPEN
    )


def check_can_buy(product: Product, user: User, now: datetime, *, winner: bool = False) -> None:
    """Raises ProductNotFound (unpublished: to buyers it is not there), MembersOnly,
    NotStarted, Ended, or NotAWinner unless `user` may buy now."""
    state = sale_state(product, user, now, winner=winner).state
    if state == SaleState.OPEN:
        return
    if state == SaleState.UNPUBLISHED:
        raise ProductNotFound()
    if state == SaleState.MEMBERS_ONLY:
        raise MembersOnly()
    if state == SaleState.WINNERS_ONLY:
        raise NotAWinner()
    if state == SaleState.ENDED:
        raise Ended(
            "The winners' time to buy has ended."
            if product.raffle_entries_until is not None
            else None
        )
    if state in (SaleState.RAFFLE, SaleState.DRAWING):
        raise NotStarted("The raffle has not been drawn yet.")
    raise NotStarted()
