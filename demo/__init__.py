"""A believable demo community for `make run`: each part is loaded once and left alone after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import links
from accounts import notices
from accounts import services as accounts
from accounts.models import User
from community.board import replies
from community.board import services as board
from community.board.models import Post
from community.feed import editing as feed_editing
from community.feed.audio import check_audio
from community.feed.models import FeedItem
from crm import broadcasts, segments
from crm import notes as crm_notes
from crm.models import AudienceKind, Tag
from demo import history
from demo import keywords as demo_keywords
from demo import legal as demo_legal
from demo import support as support_demo
from demo.pictures import picture
from demo.voices import morning_voice
from membership import grants, windows
from membership.benefits import Question
from membership.models import EnrollmentWindow
from payments.provider import PaymentProvider
from pictures import PicturePool
from ratelimit import MemoryCounter
from store import services as store
from store.models import Product

DEMO_ADMIN_EMAIL = "admin@shuyuan.test"
DEMO_PASSWORD = "shuyuan-demo"  # nosec B105  # the documented demo password

PEOPLE = [
    ("luoji@shuyuan.test", "罗胖"),
    ("xiaoyu@shuyuan.test", "小雨"),
    ("chenmo@shuyuan.test", "陈默"),
    ("linxi@shuyuan.test", "林夕"),
]


async def load(var_dir: Path, *, provider: PaymentProvider) -> bool:
    """Load every part that is missing; False if nothing was. Audio and pictures go to the
    app's storage (storage.STORAGE: under var_dir with local storage); the history's
    payments were made through `provider` (it is asked nothing: every one of them succeeded
    and was delivered)."""
    loaded = [
        await _people(),
        await _membership(),
        await _store(var_dir),
        await _feed(var_dir),
        await _board(),
    ]
    admin = await User.get(email=DEMO_ADMIN_EMAIL)
    loaded.append(await history.load(var_dir, admin=admin, provider=provider))
    loaded.append(await _outreach(admin))
    loaded.append(await support_demo.load(admin))
    loaded.append(await demo_keywords.load(admin))
    # Last, once every demo person exists: the terms and privacy policy, agreed by all.
    loaded.append(await demo_legal.load(admin))
    return any(loaded)


async def _outreach(admin: User) -> bool:
    """Tags and a note on people, two segments, and yesterday's broadcast to every member
    (sent then: today's one push is still free)."""
    if await Tag.exists():
        return False
    now = datetime.now(UTC)
    luoji, xiaoyu, chenmo = [await User.get(email=e) for e, _ in PEOPLE[:3]]
    await crm_notes.add_tag(actor=admin, user_id=luoji.id, name="讲师", now=now)
    await crm_notes.add_tag(actor=admin, user_id=xiaoyu.id, name="VIP", now=now)
    await crm_notes.add_note(
        author=admin,
        user_id=chenmo.id,
        body="会员 20 天后到期。电话里问过续费能否按原价，已答复：到期前续费从原到期日接着算。",
        now=now,
    )
    for name, rules in (
        ("30 天内到期的会员", {"expires_within_days": 30}),
        ("从未打开每日一听", {"feed": "never_opened"}),
    ):
        await segments.create(actor=admin, name=name, rules=segments.read_filter(rules), now=now)
    yesterday = now - timedelta(days=1)
    await broadcasts.create(
        actor=admin,
        title="本周六线下读书会报名开始",
        body="本周六下午两点，北京朝阳书院空间。会员凭会员卡入场，[在这里报名](https://example.com/)。",
        audience=broadcasts.Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=yesterday,
    )
    await broadcasts.send_due(now=yesterday)
    return True


async def _people() -> bool:
    if await User.filter(email=DEMO_ADMIN_EMAIL).exists():
        return False
    await accounts.create_admin(
        email=DEMO_ADMIN_EMAIL, password=DEMO_PASSWORD, display_name="书院管理员"
    )
    for email, name in PEOPLE:
        user = await accounts.register(email=email, password=DEMO_PASSWORD, display_name=name)
        await notices.notify(
            user.id,
            kind="welcome",
            params={"name": name},
            link=links.path("site.home"),
        )
    return True


MEMBER_BENEFITS = [
    "每天早上一条六十秒语音，回复关键词即得当天文章",
    "会员专属文章全文，以及可在任意播客应用收听的私人播客地址",
    "会员社区：求职、招聘、知识分享与提问，只对会员开放",
    "书院小店限量商品提前 30 分钟购买",
    "每季度一次线下读书会（北京、上海、深圳），凭会员卡入场",
]
MEMBER_FAQ = [
    (
        "会员有效期怎么算？",
        "从付款成功那一刻起算 365 天。到期前 30 天我们会提醒你续费，"
        "续费从原到期日接着算，一天也不浪费。",
    ),
    (
        "可以退款吗？",
        "开通后 7 天内，如果觉得不合适，写信到 help@shuyuan.test 即可全额退款，会员资格随之结束。",
    ),
    (
        "名额为什么有限？",
        "每期会员都会进入会员社区交流，我们希望社区保持小而精，所以每期只开放固定名额。"
        "名额满后可以排队候补，有人退出时按顺序通知。",
    ),
    (
        "可以开发票吗？",
        "可以。付款后写信到 help@shuyuan.test，附上抬头和税号，"
        "我们会在 3 个工作日内开具电子普通发票。",
    ),
]


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
        benefits=MEMBER_BENEFITS,
        faq=[Question(question, answer) for question, answer in MEMBER_FAQ],
        now=now,
    )
    for email, days in (("luoji@shuyuan.test", 365), ("chenmo@shuyuan.test", 20)):
        user = await User.get(email=email)
        await grants.grant_complimentary(user_id=user.id, days=days, now=now)
    return True


# Title, category, price, stock, description, shipping fee (fen).
STORE = [
    ("《精神粮食》第一辑", "精神粮食", 6_800, 200, "十二本书，一年的精神粮食。", 800),
    ("《生存处方》", "生存处方", 4_900, 150, "给职场人的生存手册。", 800),
    ("书院笔记本（牛皮纸）", "文具精选", 3_900, 500, "适合手写读书笔记。", 600),
]
STORE_PICTURES = [("book", "#8c3b2a"), ("book", "#3f6b4f"), ("notebook", "#c8a47a")]


async def _store(var_dir: Path) -> bool:
    """A few curated things, a drop opening in an hour (members 30 minutes earlier) and a
    members-only one, each with a picture."""
    if await Product.exists():
        return False
    pictures = PicturePool(processes=1)
    try:
        await _products(pictures)
    finally:
        pictures.close()
    return True


async def _products(pictures: PicturePool) -> None:
    for (title, category, price, stock, description, fee), (kind, colour) in zip(
        STORE, STORE_PICTURES, strict=True
    ):
        product = await store.create_product(
            title=title,
            description=description,
            category=category,
            price_fen=price,
            stock=stock,
            shipping_fee_fen=fee,
        )
        await store.set_product_image(
            product_id=product.id, data=picture(kind, colour), pictures=pictures
        )
    now = datetime.now(UTC)
    drop = await store.create_product(
        title="逼格工场 · 黄铜书签（限量 100）",
        description="每人限购 1 枚。",
        category="逼格工场",
        price_fen=9_900,
        stock=100,
        shipping_fee_fen=1_000,
        per_customer_limit=1,
        member_head_start_minutes=30,
        sale_starts_at=now + timedelta(hours=1),
    )
    await store.set_product_image(
        product_id=drop.id, data=picture("bookmark", "#c9a227"), pictures=pictures
    )
    signed = await store.create_product(
        title="会员专享 · 罗胖签名本",
        description="仅限会员。",
        category="精神粮食",
        price_fen=12_800,
        stock=50,
        per_customer_limit=1,
        members_only=True,
    )
    await store.set_product_image(
        product_id=signed.id, data=picture("book", "#2f4858"), pictures=pictures
    )


FEED = [
    # (days ago, title, keyword, members only, body)
    (
        0,
        "为什么要终身学习",
        "终身学习",
        False,
        "早上好。今天想和你聊聊**终身学习**。\n\n知识的半衰期越来越短，"
        "一个人在学校里学到的东西，撑不了一辈子。\n\n> 学习不是为了考试，而是为了在变化里站稳。",
    ),
    (
        1,
        "读书笔记：《思考，快与慢》",
        "快与慢",
        True,
        "卡尼曼把人的思考分成两个系统：**系统一**快而直觉，**系统二**慢而费力。\n\n"
        "- 锚定效应\n- 损失厌恶\n- 可得性偏差\n\n会员可以读到完整的读书笔记。",
    ),
    (2, "时间的朋友", "时间", False, "做时间的朋友，就是做那些随着时间推移会越来越有价值的事。"),
    (
        3,
        "行为经济学入门",
        "经济学",
        False,
        "人并不总是理性的。行为经济学研究的，正是人们在真实世界里怎样做决定。",
    ),
    (4, "如何读一本书", "读书", True, "精读与泛读各有用处。**会员**可以看到我们整理的十二本书单。"),
]


async def _feed(var_dir: Path) -> bool:
    """Five mornings of the daily feed, the newest today, each voice a tune of its own."""
    if await FeedItem.exists():
        return False
    admin = await User.get(email=DEMO_ADMIN_EMAIL)
    now = datetime.now(UTC)
    for number, (days_ago, title, keyword, members_only, body) in enumerate(FEED):
        await feed_editing.create_item(
            title=title,
            body=body,
            keyword=keyword,
            members_only=members_only,
            publish_at=now - timedelta(days=days_ago, minutes=1),
            author=admin,
            audio=check_audio(morning_voice(number)),
            now=now,
        )
    return True


BOARD = [
    # (author email, category, title, body, replies: [(email, body)])
    (
        "luoji@shuyuan.test",
        "hiring",
        "书院编辑部招聘内容编辑两名",
        "**地点**：北京朝阳\n\n- 热爱读书，每月至少读四本\n- 文字干净\n\n有意者回复或私信。",
        [
            ("chenmo@shuyuan.test", "请问接受远程吗？"),
            ("luoji@shuyuan.test", "@陈默 可以，每月到岗一周。"),
        ],
    ),
    (
        "chenmo@shuyuan.test",
        "knowledge",
        "我的读书笔记方法：三遍法",
        "第一遍读目录和序言，第二遍划线，第三遍写一页纸的摘要。欢迎 @罗胖 指正。",
        [("luoji@shuyuan.test", "第三遍最重要。")],
    ),
    ("luoji@shuyuan.test", "question", "大家每天几点听早上的六十秒？", "我一般是通勤路上。", []),
]


async def _board() -> bool:
    """A few board posts by the demo members, with replies and a mention or two."""
    if await Post.exists():
        return False
    counter = MemoryCounter()  # demo writers are not rate-limited across runs
    now = datetime.now(UTC)
    for email, category, title, body, answers in BOARD:
        author = await User.get(email=email)
        post, _ = await board.create_post(
            author=author, category=category, title=title, body=body, counter=counter, now=now
        )
        for replier_email, text in answers:
            replier = await User.get(email=replier_email)
            await replies.reply(post.id, author=replier, body=text, counter=counter, now=now)
    return True
