"""A drop or raffle taken down sends nobody a notice: reminders wait, raffles are not drawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.models import Notification
from store import services as store
from store.drops import remind_me, send_drop_reminders
from store.models import Product
from store.raffles import draw_due_raffles, enter_raffle
from tests.factories import make_user


async def test_a_drop_taken_down_reminds_nobody_until_published_again() -> None:
    now = datetime.now(UTC)
    admin = await make_user(admin=True)
    drop = await store.create_product(
        title="书签", description="", category="文具", price_fen=990, stock=5,
        sale_starts_at=now + timedelta(minutes=5),
    )  # fmt: skip
    waiting = await make_user()
    assert await remind_me(product_id=drop.id, user=waiting, now=now)
    await store.update_product(drop.id, {"published": False}, actor=admin, now=now)
    assert await send_drop_reminders(now=now + timedelta(minutes=10)) == 0
    assert not await Notification.filter(user_id=waiting.id, kind="drop_open").exists()
    await store.update_product(drop.id, {"published": True}, actor=admin, now=now)
    assert await send_drop_reminders(now=now + timedelta(minutes=10)) == 1


async def test_a_raffle_taken_down_is_not_drawn() -> None:
    now = datetime.now(UTC)
    admin = await make_user(admin=True)
    raffle = await store.create_product(
        title="签名本", description="", category="书", price_fen=9900, stock=1,
        raffle_entries_until=now + timedelta(minutes=5),
    )  # fmt: skip
    await enter_raffle(product_id=raffle.id, user=await make_user(), now=now)
    await store.update_product(raffle.id, {"published": False}, actor=admin, now=now)
    assert await draw_due_raffles(now=now + timedelta(minutes=10)) == 0
    assert (await Product.get(id=raffle.id)).raffle_drawn_at is None
    await store.update_product(raffle.id, {"published": True}, actor=admin, now=now)
    assert await draw_due_raffles(now=now + timedelta(minutes=10)) == 1
