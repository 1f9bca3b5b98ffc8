"""`shuyuan demo-data` loads a believable community once, and is idempotent; its five weeks of
history show in the numbers at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import demo
from accounts import consents, legal_documents
from accounts.models import User
from community.board.models import Post, Reply
from community.feed import services as feed
from community.feed.audio import check_audio
from community.feed.memory import FeedMemory
from community.feed.models import FeedItem
from demo import history, sales
from demo import keywords as demo_keywords
from demo.voices import morning_voice
from keywords.models import AutoReply, KeywordMiss
from membership import services as membership
from membership import windows
from membership.models import EnrollmentWindow
from payments.models import Payment, PaymentStatus, Refund, Settlement
from payments.provider import PaymentProvider
from stats.report import report
from storage import STORAGE, LocalStorage
from store.models import Order, OrderStatus, Product, StockUnit
from tallies import shanghai_day
from wiring import Wiring


@pytest.fixture(autouse=True)
def fresh_storage(tmp_path: Path) -> Iterator[None]:
    """The demo's pictures and voices go to a folder of this test's own (the suite's var
    folder holds other tests' files)."""
    with Wiring(((STORAGE, LocalStorage(tmp_path)),)).bound():
        yield


async def test_demo_data_loads_once_with_people_and_an_open_window(
    tmp_path: Path, provider: PaymentProvider
) -> None:
    assert await demo.load(tmp_path, provider=provider) is True
    assert await demo.load(tmp_path, provider=provider) is False
    assert await User.filter(staff_role="owner").count() == 1
    named = [demo.DEMO_ADMIN_EMAIL, *(email for email, _ in demo.PEOPLE)]
    assert await User.filter(email__in=named).count() == 1 + len(demo.PEOPLE)
    now = datetime.now(UTC)
    window = await EnrollmentWindow.filter(opens_at__lte=now).order_by("-opens_at").first()
    assert window is not None
    assert windows.window_state(window, now) == windows.WindowState.OPEN
    assert window.benefits == demo.MEMBER_BENEFITS
    assert len(window.faq) == len(demo.MEMBER_FAQ)
    luoji = await User.get(email="luoji@shuyuan.test")
    assert membership.is_member(luoji, at=now)
    # The store's own products, and the history's drop.
    assert await Product.all().count() == len(demo.STORE) + 3
    assert await Product.filter(members_only=True).count() == 1
    for product in await Product.all():  # each with a picture, drawn, in every size
        assert product.image, product.title
        for size in ("large", "thumb"):
            assert (tmp_path / "media" / "products" / f"{product.image}-{size}.jpg").stat().st_size
    page = await feed.feed_page(now=now, full_access=False, memory=FeedMemory())
    assert page.items[0].title == demo.FEED[0][1]
    assert all(item.audio_url for item in page.items)
    voices = [path.read_bytes() for path in (tmp_path / "audio").iterdir()]
    assert len(voices) == history.DAYS  # one voice each morning
    assert len(set(voices)) == len(voices)  # each a tune of its own
    lengths = await FeedItem.all().values_list("audio_seconds", flat=True)
    assert len(set(lengths)) == len(lengths) and 40 <= min(lengths) < max(lengths) <= 81
    titles = [post[2] for post in demo.BOARD]
    assert await Post.filter(title__in=titles).count() == len(demo.BOARD)
    assert await Reply.filter(post__title__in=titles).count() == sum(
        len(post[4]) for post in demo.BOARD
    )
    # The keyword box's auto-replies, and the week's words nothing answered.
    assert await AutoReply.all().count() == len(demo_keywords.RULES)
    typed = await KeywordMiss.filter(key="电子书").values_list("count", flat=True)
    assert sum(typed) == 5  # 電子書 and 电子书 folded into one word
    # The terms and privacy policy are published, and every demo person agreed to them.
    assert await consents.outstanding(luoji) == ()
    assert (await legal_documents.current_versions(fresh=True)).regime_on
    assert not await User.filter(agreed_terms=0).exists()


async def test_the_last_five_weeks_have_numbers_on_most_days(
    tmp_path: Path, provider: PaymentProvider
) -> None:
    await demo.load(tmp_path, provider=provider)
    today = shanghai_day(datetime.now(UTC))
    numbers = await report(today - timedelta(days=history.DAYS - 1), today)
    assert len(numbers.days) == history.DAYS
    for name in ("revenue_fen", "new_accounts", "feed_views", "active_members"):
        with_some = [day["date"] for day in numbers.days if day[name] > 0]
        assert len(with_some) >= history.DAYS - 5, (name, with_some)
    assert numbers.totals["board_posts"][0] > history.DAYS
    assert numbers.totals["refunds_fen"][0] > 0
    assert numbers.refreshed_at is not None
    # Each day's numbers are the rows' own, counted by their Shanghai day.
    revenue: Counter[date] = Counter()
    for at, amount in await Payment.filter(succeeded_at__isnull=False).values_list(
        "succeeded_at", "amount_fen"
    ):
        revenue[shanghai_day(at)] += amount
    joined = Counter(
        shanghai_day(at) for at in await User.all().values_list("created_at", flat=True)
    )
    assert {day["date"]: day["revenue_fen"] for day in numbers.days} == {
        day["date"]: revenue[day["date"]] for day in numbers.days
    }
    assert {day["date"]: day["new_accounts"] for day in numbers.days} == {
        day["date"]: joined[day["date"]] for day in numbers.days
    }


async def test_the_historys_payments_are_settled_as_the_services_settle_them(
    tmp_path: Path, provider: PaymentProvider
) -> None:
    await demo.load(tmp_path, provider=provider)
    paid = await Payment.filter(status=PaymentStatus.SUCCEEDED)
    assert paid and all(p.settlement == Settlement.FULFILLED and p.succeeded_at for p in paid)
    for order in await Order.filter(status=OrderStatus.PAID):
        assert order.paid_at is not None and order.payment_id is not None
        assert await StockUnit.filter(order_id=order.id).count() >= 1  # its units claimed
    refunded = await Payment.filter(status=PaymentStatus.REFUNDED)
    assert len(refunded) == await Refund.all().count() >= 1
    for payment in refunded:
        order = await Order.get(id=int(payment.subject_id))
        assert order.status == OrderStatus.REFUNDED
        assert await StockUnit.filter(order_id=order.id).count() == 0  # units given back
    drop = await Product.get(title=sales.DROP_TITLE)
    assert await StockUnit.filter(product_id=drop.id, order_id__isnull=True).count() == 0


def test_each_demo_voice_is_an_mp3_of_a_length_of_its_own() -> None:
    voices = [check_audio(morning_voice(number)) for number in (0, 1, 40)]
    assert [voice.content_type for voice in voices] == ["audio/mpeg"] * 3
    assert [round(voice.seconds) for voice in voices] == [40, 41, 80]  # mutagen's reading
    assert len({voice.sha256 for voice in voices}) == 3
