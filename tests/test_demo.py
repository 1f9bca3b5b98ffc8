"""`shuyuan demo-data` loads a believable community once, and is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import demo
from accounts.models import User
from community.board.models import Post, Reply
from community.feed import services as feed
from community.feed.memory import FeedMemory
from membership import services as membership
from membership import windows
from membership.models import EnrollmentWindow
from store.models import Product


async def test_demo_data_loads_once_with_people_and_an_open_window(tmp_path: Path) -> None:
    assert await demo.load(tmp_path) is True
    assert await demo.load(tmp_path) is False
    assert await User.filter(staff_role="owner").count() == 1
    assert await User.all().count() == 1 + len(demo.PEOPLE)
    window = await EnrollmentWindow.get()
    now = datetime.now(UTC)
    assert windows.window_state(window, now) == windows.WindowState.OPEN
    assert window.benefits == demo.MEMBER_BENEFITS
    assert len(window.faq) == len(demo.MEMBER_FAQ)
    luoji = await User.get(email="luoji@shuyuan.test")
    assert membership.is_member(luoji, at=now)
    assert await Product.all().count() == len(demo.STORE) + 2
    assert await Product.filter(members_only=True).count() == 1
    for product in await Product.all():  # each with a picture, drawn, in every size
        assert product.image, product.title
        for size in ("large", "thumb"):
            assert (tmp_path / "media" / "products" / f"{product.image}-{size}.jpg").stat().st_size
    page = await feed.feed_page(now=now, full_access=False, memory=FeedMemory())
    assert page.items[0].title == demo.FEED[0][1]
    assert len(page.items) == len(demo.FEED)
    assert all(item.audio_url for item in page.items)
    assert len(list((tmp_path / "audio").iterdir())) == len(demo.FEED)
    assert await Post.all().count() == len(demo.BOARD)
    assert await Reply.all().count() == sum(len(post[4]) for post in demo.BOARD)
