"""Broadcasts, the one push a day: who gets one, how often, by which channel, and each exactly
once however the sending is interrupted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from accounts import notices
from accounts.models import Consent, NoticeChannel, Notification, OutboxMessage, User
from crm import broadcasts
from crm.broadcasts import Audience
from crm.errors import DailyLimit, EmptyAudience
from crm.models import AudienceKind, Broadcast, BroadcastRecipient, BroadcastStatus, DailyReach
from tests.factories import make_member, make_user

# 10:00 in Shanghai on 1 June 2026.
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
MEMBERS = Audience(AudienceKind.ALL_MEMBERS)
EVERYONE = Audience(AudienceKind.EVERYONE)


async def send_everything(now: datetime) -> None:
    while (await broadcasts.send_due(now=now)).delivered or await Broadcast.filter(
        status__in=(BroadcastStatus.SENDING, BroadcastStatus.SCHEDULED), send_at__lte=now
    ).exists():
        pass


async def received(kind: str = "broadcast") -> Counter[int]:
    return Counter(await Notification.filter(kind=kind).values_list("user_id", flat=True))


async def test_a_broadcast_to_members_reaches_each_member_once_and_nobody_else() -> None:
    admin = await make_user(admin=True)
    members = [await make_member() for _ in range(3)]
    await make_user()  # not a member
    broadcast = await broadcasts.create(
        actor=admin,
        title="今天的书单",
        body="读 [这本](https://example.cn/book)。",
        audience=MEMBERS,
        send_at=None,
        now=MORNING,
    )
    assert (broadcast.status, broadcast.recipients) == (BroadcastStatus.SENDING, 3)
    await send_everything(MORNING)
    await broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.delivered, broadcast.skipped, broadcast.failed) == (
        BroadcastStatus.SENT,
        3,
        0,
        0,
    )
    assert await received() == Counter({m.id: 1 for m in members})


async def test_overlapping_audiences_on_one_day_reach_nobody_twice() -> None:
    admin = await make_user(admin=True)
    members = [await make_member() for _ in range(2)]
    others = [await make_user() for _ in range(2)]
    first = await broadcasts.create(
        actor=admin, title="一", body="一", audience=MEMBERS, send_at=None, now=MORNING
    )
    await send_everything(MORNING)
    later = MORNING + timedelta(hours=3)
    second = await broadcasts.create(
        actor=admin, title="二", body="二", audience=EVERYONE, send_at=None, now=later
    )
    await send_everything(later)
    await second.refresh_from_db()
    # admin and the two others are new to the day; the two members were reached by the first.
    assert (second.delivered, second.skipped) == (3, 2)
    counts = await received()
    assert all(n == 1 for n in counts.values())
    assert set(counts) == {admin.id, *(u.id for u in members + others)}
    await first.refresh_from_db()
    assert first.delivered == 2


async def test_a_broadcast_whose_every_recipient_was_reached_today_is_refused() -> None:
    admin = await make_user(admin=True)
    await make_member()
    await broadcasts.create(
        actor=admin, title="一", body="一", audience=MEMBERS, send_at=None, now=MORNING
    )
    await send_everything(MORNING)
    with pytest.raises(DailyLimit):
        await broadcasts.create(
            actor=admin,
            title="二",
            body="二",
            audience=MEMBERS,
            send_at=None,
            now=MORNING + timedelta(hours=1),
        )


async def test_broadcasts_at_23_59_and_00_01_shanghai_time_both_arrive() -> None:
    admin = await make_user(admin=True)
    member = await make_member()
    before_midnight = datetime(2026, 6, 1, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    after_midnight = datetime(2026, 6, 1, 16, 1, tzinfo=UTC)  # 00:01 the next day
    await broadcasts.create(
        actor=admin, title="晚安", body="晚安", audience=MEMBERS, send_at=None, now=before_midnight
    )
    await send_everything(before_midnight)
    await broadcasts.create(
        actor=admin, title="早安", body="早安", audience=MEMBERS, send_at=None, now=after_midnight
    )
    await send_everything(after_midnight)
    assert (await received())[member.id] == 2
    assert sorted(await DailyReach.filter(user_id=member.id).values_list("day", flat=True)) == [
        before_midnight.date(),
        after_midnight.date() + timedelta(days=1),
    ]


async def test_mail_goes_only_to_those_who_chose_it_and_the_choice_is_recorded_as_consent() -> None:
    admin = await make_user(admin=True)
    chose = await make_member()
    chose.email_verified_at = MORNING
    await chose.save(update_fields=["email_verified_at"])
    await notices.choose(chose, "broadcast", NoticeChannel.INBOX_AND_MAIL.value, now=MORNING)
    did_not = await make_member()
    did_not.email_verified_at = MORNING
    await did_not.save(update_fields=["email_verified_at"])
    declined = await make_member()
    await notices.choose(declined, "broadcast", NoticeChannel.NOTHING.value, now=MORNING)
    broadcast = await broadcasts.create(
        actor=admin,
        title="新书",
        body="见 [书](https://example.cn/b?x=1&y=2)",
        audience=MEMBERS,
        send_at=None,
        now=MORNING,
    )
    assert broadcast.recipients == 2  # who chose nothing is not in the audience
    await send_everything(MORNING)
    mails = await OutboxMessage.filter(dedupe_key__startswith="broadcast:")
    assert [m.recipient for m in mails] == [chose.email]
    mail = mails[0]
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://example.cn/b" not in mail.html  # the link goes through the counted redirect
    consent = await Consent.get(user_id=chose.id, purpose="broadcast")
    assert (consent.purpose, consent.granted, consent.source) == ("broadcast", True, "notices_page")
    assert await received() == Counter({chose.id: 1, did_not.id: 1})


async def test_an_empty_audience_is_refused() -> None:
    admin = await make_user(admin=True)
    with pytest.raises(EmptyAudience):
        await broadcasts.create(
            actor=admin, title="一", body="一", audience=MEMBERS, send_at=None, now=MORNING
        )


async def test_a_scheduled_broadcast_waits_for_its_time() -> None:
    admin = await make_user(admin=True)
    member = await make_member()
    at = MORNING + timedelta(hours=2)
    broadcast = await broadcasts.create(
        actor=admin, title="一", body="一", audience=MEMBERS, send_at=at, now=MORNING
    )
    assert broadcast.status == BroadcastStatus.SCHEDULED
    await broadcasts.send_due(now=MORNING + timedelta(hours=1))
    assert await received() == Counter()
    await send_everything(at)
    assert await received() == Counter({member.id: 1})
    assert await BroadcastRecipient.filter(broadcast_id=broadcast.id).count() == 1
    assert await User.all().count() == 2


async def test_the_sending_job_lets_go_of_reaches_before_yesterday() -> None:
    member = await make_member()
    for days_ago in (0, 1, 2, 30):
        day = (MORNING + timedelta(hours=8) - timedelta(days=days_ago)).date()
        await DailyReach.create(user_id=member.id, day=day, broadcast_id=1)
    await broadcasts.send_due(now=MORNING)
    kept = sorted(await DailyReach.all().values_list("day", flat=True))
    assert kept == [date(2026, 5, 31), date(2026, 6, 1)]


async def test_a_broadcast_carries_no_pictures_from_elsewhere() -> None:
    admin = await make_user(admin=True)
    await make_member()
    broadcast = await broadcasts.create(
        actor=admin,
        title="图",
        body="看图 ![像素](https://tracker.example/p.gif)",
        audience=MEMBERS,
        send_at=None,
        now=MORNING,
    )
    assert "<img" not in broadcast.body_html and "tracker.example" not in broadcast.body_html


async def test_everyone_a_broadcast_still_sending_will_reach_counts_as_reached() -> None:
    admin = await make_user(admin=True)
    await make_member()
    await broadcasts.create(  # started (its recipients written), not one batch delivered yet
        actor=admin, title="一", body="一", audience=MEMBERS, send_at=None, now=MORNING
    )
    with pytest.raises(DailyLimit):
        await broadcasts.create(
            actor=admin, title="二", body="二", audience=MEMBERS, send_at=None, now=MORNING
        )
    # Tomorrow's is another day: the first one's pending people do not count for it.
    tomorrow = await broadcasts.create(
        actor=admin,
        title="三",
        body="三",
        audience=MEMBERS,
        send_at=MORNING + timedelta(days=1),
        now=MORNING,
    )
    assert tomorrow.status == BroadcastStatus.SCHEDULED
