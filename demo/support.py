"""The demo's customer service: a question waiting in the queue, one answered yesterday, and one
closed last week, so the queue, the first-response times and a member's page have something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.models import User
from ratelimit import MemoryCounter
from support import services
from support.models import Conversation


async def load(admin: User) -> bool:
    if await Conversation.exists():
        return False
    now = datetime.now(UTC)
    counter = MemoryCounter()
    luoji, xiaoyu, chenmo = [
        await User.get(email=email)
        for email in ("luoji@shuyuan.test", "xiaoyu@shuyuan.test", "chenmo@shuyuan.test")
    ]
    week_ago = now - timedelta(days=7)
    closed = await services.start(
        luoji,
        body="线下读书会可以带朋友一起来吗？",
        page="/membership",
        now=week_ago,
        counter=counter,
    )
    await services.write(
        admin,
        closed.id,
        body="可以带一位朋友，入场时出示你的会员卡即可。",
        now=week_ago + timedelta(hours=3),
        counter=counter,
    )
    await services.close(luoji, closed.id, now=week_ago + timedelta(hours=4))
    yesterday = now - timedelta(days=1)
    answered = await services.start(
        chenmo,
        body="我的会员 20 天后到期，现在续费会从今天开始算吗？",
        page="/membership",
        now=yesterday,
        counter=counter,
    )
    await services.write(
        admin,
        answered.id,
        body="不会。到期前续费，新的一年从原到期日接着算，一天也不浪费。",
        now=yesterday + timedelta(minutes=25),
        counter=counter,
    )
    await services.start(
        xiaoyu,
        body="前天买的《精神粮食》第一辑还没有发货，能帮我看看吗？订单号在“我的订单”里。",
        page="/store/orders",
        now=now - timedelta(hours=2),
        counter=counter,
    )
    return True
