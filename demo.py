"""A believable demo community for `make run`: each part is loaded once and left alone after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts import services as accounts
from accounts.models import User
from membership import grants, windows
from membership.models import EnrollmentWindow
from store import services as store
from store.models import Product

DEMO_ADMIN_EMAIL = "admin@shuyuan.test"
DEMO_PASSWORD = "shuyuan-demo"

PEOPLE = [
    ("luoji@shuyuan.test", "罗胖"),
    ("xiaoyu@shuyuan.test", "小雨"),
    ("chenmo@shuyuan.test", "陈默"),
    ("linxi@shuyuan.test", "林夕"),
]


async def load() -> bool:
    """Load every part that is missing; False if nothing was."""
    loaded = [await _people(), await _membership(), await _store()]
    return any(loaded)


async def _people() -> bool:
    if await User.filter(email=DEMO_ADMIN_EMAIL).exists():
        return False
    await accounts.create_admin(
        email=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD, display_name="书院管理员"
    )
    for email, name in PEOPLE:
        user = await accounts.register(email=email, password=DEMO_PASSWORD, display_name=name)
        await accounts.notify(
            user.id,
            kind="welcome",
            message=f"{name}，欢迎来到书院。每天早上六点半，一段六十秒语音等你。",
            link="/",
        )
    return True


async def _membership() -> bool:
    """This year's window, open for a month, and two members already in (one complimentary)."""
    if await EnrollmentWindow.exists():
        return False
    now = datetime.now(UTC)
    await windows.create_window(
        name=f"{now.year + 1} 年度会员 · 第一期",
        price_fen=19_900,
        seats=500,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=30),
        now=now,
    )
    admin = await User.get(email=DEMO_ADMIN_EMAIL)
    for email, days in (("luoji@shuyuan.test", 365), ("chenmo@shuyuan.test", 20)):
        user = await User.get(email=email)
        await grants.grant_complimentary(user_id=user.id, days=days, granted_by=admin, now=now)
    return True


STORE = [
    ("《精神粮食》第一辑", "精神粮食", 6_800, 200, "十二本书，一年的精神粮食。"),
    ("《生存处方》", "生存处方", 4_900, 150, "给职场人的生存手册。"),
    ("书院笔记本（牛皮纸）", "文具精选", 3_900, 500, "适合手写读书笔记。"),
]


async def _store() -> bool:
    """A few curated things, a drop opening in an hour (members 30 minutes earlier) and a
    members-only one."""
    if await Product.exists():
        return False
    for title, category, price, stock, description in STORE:
        await store.create_product(
            title=title, description=description, category=category, price_fen=price, stock=stock
        )
    now = datetime.now(UTC)
    await store.create_product(
        title="逼格工场 · 黄铜书签（限量 100）",
        description="每人限购 1 枚。",
        category="逼格工场",
        price_fen=9_900,
        stock=100,
        per_customer_limit=1,
        member_head_start_minutes=30,
        sale_starts_at=now + timedelta(hours=1),
    )
    await store.create_product(
        title="会员专享 · 罗胖签名本",
        description="仅限会员。",
        category="精神粮食",
        price_fen=12_800,
        stock=50,
        per_customer_limit=1,
        members_only=True,
    )
    return True
