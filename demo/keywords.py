"""The demo's keyword box: a few auto-replies (a product, the enrollment window, a board post,
the service desk's hours, a morning greeting drawn at random) and the words members typed this
week that nothing answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.models import User
from community.board.models import Post
from keywords import misses, rules
from keywords.checks import KeywordInput, ReplyInput
from keywords.memory import KeywordMemory
from keywords.models import AutoReply
from store.models import Product

# Each rule: (keywords as (text, match), replies, mode). A reply names a product or a post by
# its title; the demo finds it.
RULES = [
    (
        [("笔记本", "contain"), ("本子", "contain")],
        [("text", "手写读书笔记，就用书院的牛皮纸笔记本："), ("product", "书院笔记本（牛皮纸）")],
        "all",
    ),
    (
        [("精神粮食", "contain")],
        [("product", "《精神粮食》第一辑"), ("text", "十二本书，一年的精神粮食。会员另有签名本。")],
        "all",
    ),
    (
        [("会员", "equal"), ("入会", "contain"), ("续费", "contain")],
        [
            ("text", "会员每天收听完整的六十秒语音，读全部读书笔记，还能买会员专享的签名本。"),
            ("window", ""),
        ],
        "all",
    ),
    (
        [("读书笔记", "contain")],
        [("post", "我的读书笔记方法：三遍法"), ("text", "更多笔记方法，欢迎到论坛交流。")],
        "all",
    ),
    (
        [("客服", "equal"), ("人工", "contain"), ("联系我们", "equal")],
        [
            (
                "text",
                "客服在线时间：工作日 9:00–18:00。\n微信：shuyuan-kefu\n邮箱：help@shuyuan.test",
            )
        ],
        "all",
    ),
    (
        [("早安", "equal"), ("早上好", "equal")],
        [
            ("text", "早安！今天也做时间的朋友。"),
            ("text", "早上好，六十秒语音已经更新。"),
            ("text", "早安。读一页书，再出门。"),
        ],
        "random_one",
    ),
]
# Words typed this week that nothing answered: (word, times, days ago).
MISSES = [
    ("直播", 6, 0), ("直播回放", 2, 1), ("電子書", 3, 0), ("电子书", 2, 2), ("退款", 2, 1),
    ("Kindle", 1, 3), ("线下活动", 4, 2), ("发票", 1, 5),
]  # fmt: skip


async def _reply(kind: str, named: str) -> ReplyInput:
    if kind == "text":
        return ReplyInput("text", text=named)
    if kind == "product":
        return ReplyInput(kind, id=(await Product.get(title=named)).id)
    if kind == "post":
        return ReplyInput(kind, id=(await Post.get(title=named)).id)
    return ReplyInput(kind)


async def load(admin: User) -> bool:
    """The rules and the week's misses, once (False when there are rules already). Needs the
    store's products and the board's posts loaded first."""
    if await AutoReply.exists():
        return False
    now = datetime.now(UTC)
    for keywords, replies, mode in RULES:
        await rules.create_rule(
            actor=admin,
            keywords=[KeywordInput(text, match) for text, match in keywords],
            replies=[await _reply(kind, named) for kind, named in replies],
            mode=mode,
            now=now,
        )
    counted = KeywordMemory()
    for word, times, days_ago in MISSES:
        for n in range(times):
            at = now - timedelta(days=days_ago, minutes=7 * n)
            misses.record(counted, word, now=at)
    await misses.flush(counted)
    return True
