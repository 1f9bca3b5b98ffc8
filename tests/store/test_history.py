"""An order's history reads as sentences in the reader's language, never as stored codes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from payments.provider import PaymentProvider
from ratelimit import MemoryCounter
from store import services as store
from store.history import NOTES, read_note
from store.models import OrderEvent, OrderStatus
from tests.factories import make_user, sign_in
from translation import translations


def test_every_note_the_store_writes_reads_as_a_sentence_in_both_languages() -> None:
    zh, en = translations("zh_CN").gettext, translations("en").gettext
    for note in [*NOTES, "payment failed: card_declined", "payment failed: something_new"]:
        chinese = read_note(note, zh)
        assert chinese != note and not any("a" <= c <= "z" for c in chinese), (note, chinese)
        assert read_note(note, en) != note
    assert read_note("payment failed: card_declined", zh) == "支付失败：你的银行卡被拒绝。"
    assert read_note("SF1234567890", zh) == "SF1234567890"  # a tracking number, as written


async def test_the_order_page_shows_no_raw_code(
    client: httpx.AsyncClient, provider: PaymentProvider
) -> None:
    buyer = await make_user()
    product = await store.create_product(
        title="书签", description="", category="文具", price_fen=100, stock=5
    )
    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
    )
    await OrderEvent.create(
        order_id=order.id, status=OrderStatus.PENDING_PAYMENT, note="payment failed: card_declined"
    )
    await store.cancel_order(
        provider=provider, order_id=order.id, user=buyer, now=datetime.now(UTC)
    )
    await sign_in(client, buyer.email)
    page = await client.get(f"/store/orders/{order.id}", headers={"Accept-Language": "zh-CN"})
    assert "支付失败：你的银行卡被拒绝。" in page.text
    assert "买家已取消" in page.text
    assert "card_declined" not in page.text and "cancelled by the buyer" not in page.text
