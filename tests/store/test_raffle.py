"""Raffle drops (预约): entries, a seeded draw anyone can re-run, and only winners may buy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import Notification
from store import services as store
from store.errors import Ended, NotAWinner, NotStarted, RaffleClosed
from store.models import RaffleEntry
from tests.factories import bearer, make_user, make_users, token_for


async def raffle_drop(now: datetime, *, stock: int = 2):  # type: ignore[no-untyped-def]
    return await store.create_product(
        title="限量手机",
        description="",
        category="逼格工场",
        price_fen=199_900,
        stock=stock,
        per_customer_limit=1,
        raffle_entries_until=now + timedelta(hours=1),
        raffle_purchase_minutes=30,
    )


async def test_entries_a_seeded_draw_and_only_winners_buy(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    drop = await raffle_drop(now)
    people = await make_users(6, prefix="raffle")
    for person in people:
        response = await client.post(
            f"/api/v1/products/{drop.id}/raffle-entries",
            headers=bearer(await token_for(person)),
        )
        assert response.status_code == 201
    again = await client.post(
        f"/api/v1/products/{drop.id}/raffle-entries", headers=bearer(await token_for(people[0]))
    )
    assert again.json() == {"entries": 6}  # entering twice counts once

    with pytest.raises(NotStarted):
        await store.draw_raffle(product_id=drop.id, now=now)
    drawn_at = now + timedelta(hours=1)
    draw = await store.draw_raffle(product_id=drop.id, now=drawn_at, seed="书院-2026")
    assert len(draw.winners) == 2
    assert draw.entries == 6
    # The recorded seed reproduces the draw.
    assert store.pick_winners([p.id for p in people], places=2, seed="书院-2026") == draw.winners
    with pytest.raises(RaffleClosed):
        await store.draw_raffle(product_id=drop.id, now=drawn_at)
    assert await RaffleEntry.filter(product_id=drop.id, won=True).count() == 2
    for winner_id in draw.winners:
        assert await Notification.filter(user_id=winner_id, kind="raffle_won").count() == 1

    winner = next(p for p in people if p.id in draw.winners)
    loser = next(p for p in people if p.id not in draw.winners)
    counter = client._transport.app.state.counter  # type: ignore[attr-defined]
    buy_at = drawn_at + timedelta(minutes=5)
    order = await store.place_order(
        buyer=winner, items=[store.Wanted(drop.id, 1)], now=buy_at, counter=counter
    )
    assert order.total_fen == 199_900
    with pytest.raises(NotAWinner):
        await store.place_order(
            buyer=loser, items=[store.Wanted(drop.id, 1)], now=buy_at, counter=counter
        )
    late = next(p for p in people if p.id in draw.winners and p.id != winner.id)
    with pytest.raises(Ended):
        await store.place_order(
            buyer=late,
            items=[store.Wanted(drop.id, 1)],
            now=drawn_at + timedelta(minutes=31),
            counter=counter,
        )


async def test_entries_after_the_period_are_refused(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    drop = await raffle_drop(now - timedelta(hours=2))
    response = await client.post(
        f"/api/v1/products/{drop.id}/raffle-entries",
        headers=bearer(await token_for(await make_user())),
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "raffle_closed"
    ordinary = await store.create_product(
        title="笔", description="", category="文具精选", price_fen=100, stock=1
    )
    not_raffle = await client.post(
        f"/api/v1/products/{ordinary.id}/raffle-entries",
        headers=bearer(await token_for(await make_user())),
    )
    assert not_raffle.json()["error"]["code"] == "not_a_raffle"


async def test_the_task_draws_due_raffles_once(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    drop = await raffle_drop(now)
    await store.enter_raffle(product_id=drop.id, user=await make_user(), now=now)
    assert await store.draw_due_raffles(now=now) == 0
    assert await store.draw_due_raffles(now=now + timedelta(hours=1)) == 1
    assert await store.draw_due_raffles(now=now + timedelta(hours=2)) == 0
    shown = await client.get(f"/api/v1/products/{drop.id}")
    assert shown.json()["raffle_seed"]
