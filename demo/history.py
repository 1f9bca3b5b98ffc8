"""The demo community's last five weeks, so that the console's numbers have a past: people
joining (more on some days), a founding enrollment window whose opening sold most of its seats
in its first hour, members reading, playing and looking up the morning feed, posts and replies
on the board, paid orders most days, a limited drop sold out in minutes, two refunds; then each
of those days rolled up (stats.rollups), so the dashboard shows them at once.

It goes through the services wherever they take a clock (`now`): windows and seats, orders and
units, grants, posts and replies, the counters (tallies); demo.sales says how money moved.
What a service stamps with the wall clock (when a grant, post, reply or payment row was
written) is then set to the moment it happened. Seeded: the same history on every load,
ending now.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from accounts import services as accounts
from accounts.models import User
from community.board import replies
from community.board import services as board
from community.board.models import Post, Reply
from community.feed import analytics as feed_analytics
from community.feed import editing
from community.feed.audio import check_audio
from community.feed.models import FeedItem
from demo import sales
from demo.past import (
    COMPLIMENTARY,
    DAYS,
    DROP,
    MENTION,
    REFUNDS,
    SEED,
    WINDOW_OPENS,
    Past,
    shanghai,
)
from demo.voices import morning_voice
from membership import grants
from membership.models import MembershipGrant
from payments.provider import PaymentProvider
from ratelimit import MemoryCounter
from stats import rollups
from store.analytics import count_product_view
from store.models import Product
from tallies import flush, shanghai_day

FIRST_EMAIL = "reader001@shuyuan.test"  # the history is there when this person is
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = [
    "一鸣", "子涵", "欣怡", "浩然", "思远", "雨桐", "梓萱", "宇航", "晓东", "静怡", "嘉豪", "文博",
    "佳琪", "俊杰", "诗涵", "明轩", "可馨", "天佑", "若曦", "志强", "晨曦", "雅婷", "博文", "海洋",
    "悦然", "书瑶", "逸飞", "慧敏", "立新", "婉清", "子墨", "安然", "清扬", "知远", "予安",
]  # fmt: skip
FEED_TOPICS = [
    ("复利思维", "复利"), ("刻意练习", "刻意练习"), ("第二曲线", "第二曲线"),
    ("反脆弱", "反脆弱"), ("长期主义", "长期主义"), ("认知带宽", "带宽"),
    ("费曼学习法", "费曼"), ("心流", "心流"), ("系统思考", "系统"), ("原则", "原则"),
    ("稀缺", "稀缺"), ("注意力经济", "注意力"), ("好奇心", "好奇心"), ("写作即思考", "写作"),
    ("读书的三种速度", "速读"), ("峰终定律", "峰终"), ("机会成本", "机会成本"),
    ("幸存者偏差", "幸存者"), ("边际效用", "边际"), ("确认偏误", "偏误"),
    ("二八法则", "二八"), ("延迟满足", "延迟满足"), ("成长型思维", "成长"),
    ("费米估算", "费米"), ("长尾", "长尾"), ("节奏感", "节奏"), ("终身成长", "成长型"),
    ("知识的诅咒", "诅咒"), ("沉没成本", "沉没成本"), ("少即是多", "少即是多"),
]  # fmt: skip
BOOKS = [
    "思考，快与慢", "原则", "反脆弱", "枪炮、病菌与钢铁", "人类简史", "置身事内", "穷查理宝典",
    "卓有成效的管理者", "影响力", "乌合之众", "刻意练习", "认知觉醒", "金字塔原理", "非暴力沟通",
    "被讨厌的勇气", "娱乐至死",
]  # fmt: skip
IDEAS = ["三个收获", "一页纸摘要", "我不同意的地方", "和工作的关系", "读了三遍之后"]
REPLIES = [
    "谢谢分享，收藏了。", "同感，尤其是第二点。", "我也在读这本，一起打卡。", "写得很清楚。",
    "有没有电子版推荐？", "这个角度没想到，受教。", "周末线下读书会聊聊？", "已转给同事。",
    "第三遍最重要。", "求书单！", "我的体会正好相反，哈哈。", "很实用，明天就试试。",
]  # fmt: skip
JOBS = [
    ("hiring", "书院编辑部招实习编辑一名", "北京，每周到岗三天。热爱读书、文字干净即可。"),
    ("hiring", "读书会组织者（上海）", "每月一次线下活动，志愿者，有场地优先。"),
    ("job", "产品经理，五年经验，求机会", "做过教育与内容产品，坐标杭州，可远程。"),
    ("job", "前端工程师找新工作", "三年 Vue / React，坐标深圳，喜欢内容社区。"),
]


async def load(var_dir: Path, *, admin: User, provider: PaymentProvider) -> bool:
    """Load the five weeks once (False if they are there). Needs the rest of the demo (the
    admin, the products, today's feed items) loaded first."""
    if await User.filter(email=FIRST_EMAIL).exists():
        return False
    now = datetime.now(UTC)
    today = shanghai_day(now)
    past = Past(
        rng=random.Random(SEED),  # nosec B311  # a story told the same way, not a secret
        now=now,
        provider=provider,
        admin=admin,
        days=[today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)],
        var_dir=var_dir,
    )
    await _people(past)
    past.chance("window")
    await sales.founding_window(past)
    past.chance("complimentary")
    await _complimentary(past)
    # Reloaded: their memberships (member_until) are what orders and posts are checked by.
    past.people = await User.filter(id__in=[p.id for p in past.people]).order_by("created_at")
    await _feed_items(past)
    products = await Product.filter(sale_starts_at__isnull=True).order_by("id")
    for n, day in enumerate(past.days):
        past.chance("reading", n)
        await _reading(past, day, products)
        past.chance("orders", n)
        await sales.orders(past, day, products)
        if n >= WINDOW_OPENS:
            past.chance("board", n)
            await _board(past, day)
    past.chance("drop")
    await sales.drop(past)
    for n in REFUNDS:
        await sales.refund_an_order(past, past.days[n])
    await feed_analytics.flush_analytics(past.memory)
    await flush(past.memory.tally)
    for day in past.days:  # every day, whatever the rollups had already written
        await rollups.refresh_day(day, now=now)
    await rollups.refresh(now=now)
    return True


async def _people(past: Past) -> None:
    """A few people join each day, many more on the days something happened."""
    spikes = {WINDOW_OPENS - 1: 10, WINDOW_OPENS: 30, MENTION: 24, MENTION + 1: 9, DROP: 12}
    shared_hash = await accounts.hash_password("shuyuan-demo")
    made: list[User] = []
    for n, day in enumerate(past.days):
        past.chance("people", n)
        count = past.rng.randint(3, 7) + (2 if day.weekday() >= 5 else 0) + spikes.get(n, 0)
        for _ in range(count):
            at = past.moment(day)
            if n == WINDOW_OPENS and past.rng.random() < 0.6:  # in time for the opening
                at = shanghai(day) + timedelta(hours=19, minutes=past.rng.randrange(58))
            if at is None or at >= past.now:
                continue
            number = len(made) + 1
            name = past.rng.choice(SURNAMES) + past.rng.choice(GIVEN)
            made.append(
                User(
                    email=f"reader{number:03d}@shuyuan.test",
                    display_name=name,
                    password_hash=shared_hash,
                    created_at=at,
                )
            )
    await User.bulk_create(made)
    past.people = await User.filter(email__startswith="reader").order_by("created_at")


async def _complimentary(past: Past) -> None:
    """A year given to a guest speaker now and then (by the admin)."""
    for n in COMPLIMENTARY:
        day = past.days[n]
        guests = [p for p in past.living(shanghai(day)) if p.id not in past.member_from]
        at = shanghai(day, time(15, 30))
        if not guests or at >= past.now:
            continue
        guest = past.rng.choice(guests)
        await grants.grant_complimentary(user_id=guest.id, days=365, now=at, actor=past.admin)
        await MembershipGrant.filter(user_id=guest.id).update(created_at=at)
        past.member_from[guest.id] = at


async def _feed_items(past: Past) -> None:
    """A morning item for each day before the demo's own five (FEED), made the same way."""
    known = {shanghai_day(item.publish_at): item for item in await FeedItem.all()}
    missing = [day for day in past.days if day not in known]
    # Newest first: with the demo's own items loaded long ago, the oldest days go without.
    for number, (day, (title, keyword)) in enumerate(
        zip(reversed(missing), FEED_TOPICS, strict=False)
    ):
        known[day] = await editing.create_item(
            title=title,
            body=f"早上好。今天聊聊**{title}**。\n\n关键词：{keyword}",
            keyword=keyword,
            members_only=day.toordinal() % 3 == 0,
            publish_at=shanghai(day, time(7, 0)),
            author=past.admin,
            # Voices 0 to 4 are the demo's own five mornings' (FEED).
            audio=check_audio(morning_voice(5 + number)),
            now=past.now,
        )
    past.items = known


async def _reading(past: Past, day: date, products: list[Product]) -> None:
    """The day's readers: members most days, others now and then, some not signed in; each
    reads the morning item (or yesterday's before it is out), some play it, look its keyword
    up, open a product."""
    tally = past.memory.tally
    item = past.item_of(day)
    before = past.item_of(day - timedelta(days=1)) or item
    if item is None or before is None:
        return
    for person in past.living(shanghai(day) + timedelta(days=1)):
        member = past.member_at(person, shanghai(day))
        if past.rng.random() >= (0.6 if member else 0.2):
            continue
        at = past.moment(day, after=person.created_at)
        if at is None:
            continue
        read = item if at >= item.publish_at else before
        for _ in range(past.rng.choice((1, 1, 2, 3))):
            feed_analytics.record(past.memory, read.id, "views", user_id=person.id, now=at)
        if (member or not read.members_only) and past.rng.random() < (0.6 if member else 0.3):
            feed_analytics.record(past.memory, read.id, "plays", user_id=person.id, now=at)
        if past.rng.random() < 0.2:
            feed_analytics.record(past.memory, read.id, "lookups", user_id=person.id, now=at)
        if past.rng.random() < 0.3:
            count_product_view(tally, past.rng.choice(products), person.id, at)
    for _ in range(past.rng.randint(15, 40)):
        at = past.moment(day)
        if at is not None:
            read = item if at >= item.publish_at else before
            feed_analytics.record(past.memory, read.id, "views", now=at)
            if past.rng.random() < 0.3:
                count_product_view(tally, past.rng.choice(products), None, at)


async def _board(past: Past, day: date) -> None:
    """Most days a post or three by members, replied to over the next hours."""
    if past.rng.random() < 0.15:
        return
    for _ in range(past.rng.randint(1, 3)):
        at = past.moment(day)
        writers = [p for p in past.people if at is not None and past.member_at(p, at)]
        if at is None or not writers:
            continue
        author = past.rng.choice(writers)
        if past.rng.random() < 0.15:
            category, title, body = past.rng.choice(JOBS)
        else:
            book = past.rng.choice(BOOKS)
            category, title = "knowledge", f"《{book}》读书笔记：{past.rng.choice(IDEAS)}"
            body = f"最近在读《{book}》，记下几点：\n\n- 先读目录\n- 边读边写\n- 读完讲给别人听"
            if past.rng.random() < 0.3:
                category, title = "question", f"有人读过《{book}》吗？值得精读吗？"
                body = "想挑一本这个月精读，大家有什么建议？"
        post, created = await board.create_post(
            author=author,
            category=category,
            title=title,
            body=body,
            counter=MemoryCounter(),  # the demo's writers are not rate-limited across weeks
            now=at,
        )
        if not created:
            continue
        await Post.filter(id=post.id).update(created_at=at)
        later = at
        for text in past.rng.sample(REPLIES, past.rng.randint(0, 4)):
            later = later + timedelta(minutes=past.rng.randint(4, 600))
            others = [p for p in writers if p.id != author.id and past.member_at(p, later)]
            if later >= past.now or not others:
                break
            replier = past.rng.choice(others)
            reply, _ = await replies.reply(
                post.id, author=replier, body=text, counter=MemoryCounter(), now=later
            )
            await Reply.filter(id=reply.id).update(created_at=later)
