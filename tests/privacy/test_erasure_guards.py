"""The erasure's guards: nothing owed is erased (postponed instead), others' words are not
rewritten for sharing a name, one failing person does not stop the rest, no copy's file
outlives its row."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.models import User
from community.board import services as board
from community.board.models import Post
from keywords.models import KeywordMiss
from privacy import erasure, export
from privacy.models import DataExport, ExportState
from privacy.scrub import ERASED_NAME
from ratelimit import MemoryCounter
from referrals.models import Payout
from settings import Settings
from store.models import InvoiceKind, InvoiceRequest, Order, OrderStatus
from support.models import Conversation, Message
from tests.factories import make_member, make_user


async def _due(user: User, now: datetime) -> None:
    await User.filter(id=user.id).update(erase_after=now - timedelta(seconds=1))


async def _order(user: User, status: OrderStatus, now: datetime) -> Order:
    return await Order.create(
        user=user, status=status, total_fen=12_800, hold_expires_at=now + timedelta(minutes=15),
        ship_name="王芳", ship_phone="13912345678", ship_address="灵隐路 7 号 书斋",
    )  # fmt: skip


async def test_a_payment_landing_on_a_held_order_after_leaving_postpones_the_erasure(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    leaving = await make_user(email="zhen.yinshi@example.cn", name="甄隐士")
    order = await _order(leaving, OrderStatus.PENDING_PAYMENT, now)
    await _due(leaving, now)
    # The hold's payment lands during the cooling-off: the order is paid, not yet delivered.
    await Order.filter(id=order.id).update(status=OrderStatus.PAID, paid_at=now)
    with caplog.at_level(logging.WARNING, logger="privacy.erasure"):
        assert await erasure.erase_due(now=now, var_dir=settings.var_dir) == []
    assert f"account {leaving.id} postponed" in caplog.text.replace("erasure of ", "")
    kept = await Order.get(id=order.id)
    assert (kept.ship_name, kept.ship_address) == ("王芳", "灵隐路 7 号 书斋")
    assert (await User.get(id=leaving.id)).erased_at is None
    await Order.filter(id=order.id).update(status=OrderStatus.DELIVERED)
    [done] = await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert done.user_id == leaving.id
    assert (await Order.get(id=order.id)).ship_address is None


async def test_an_order_still_held_for_payment_postpones_the_erasure(settings: Settings) -> None:
    now = datetime.now(UTC)
    leaving = await make_user(name="甄隐士")
    await _order(leaving, OrderStatus.PENDING_PAYMENT, now)
    await _due(leaving, now)
    assert await erasure.erase_due(now=now, var_dir=settings.var_dir) == []
    assert (await User.get(id=leaving.id)).display_name == "甄隐士"


async def test_a_payout_not_yet_decided_postpones_the_erasure(settings: Settings) -> None:
    now = datetime.now(UTC)
    leaving = await make_user(name="甄隐士")
    await Payout.create(referrer_id=leaving.id, amount_fen=100, requested_at=now)
    await _due(leaving, now)
    assert await erasure.erase_due(now=now, var_dir=settings.var_dir) == []
    await Payout.filter(referrer_id=leaving.id).update(status="rejected", decided_at=now)
    assert len(await erasure.erase_due(now=now, var_dir=settings.var_dir)) == 1


async def test_another_members_words_holding_the_same_name_are_left_as_written(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    leaving = await make_member(name="王芳")
    other = await make_member(name="李雷")
    order = await _order(leaving, OrderStatus.DELIVERED, now)
    await InvoiceRequest.create(
        order=order, user=leaving, kind=InvoiceKind.PERSONAL, title="个人", requested_at=now
    )
    counter = MemoryCounter()
    plain, _ = await board.create_post(
        author=other, category="knowledge", title="王芳老师的课", body="我个人认为王芳讲得好。",
        counter=counter, now=now,
    )  # fmt: skip
    mention, _ = await board.create_post(
        author=other, category="knowledge", title="读书会", body="@王芳 周六见。@王芳芳 也来",
        counter=counter, now=now,
    )  # fmt: skip
    await KeywordMiss.create(
        key="我个人认为", sample="我个人认为", day=now.date(), count=1, last_at=now
    )
    await _due(leaving, now)
    [done] = await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert done.user_id == leaving.id
    untouched = await Post.get(id=plain.id)
    assert (untouched.title, untouched.body) == ("王芳老师的课", "我个人认为王芳讲得好。")
    mentioned = await Post.get(id=mention.id)
    assert mentioned.body == f"@{ERASED_NAME} 周六见。@王芳芳 也来"
    assert "王芳</" not in mentioned.body_html and "@王芳芳" in mentioned.body_html
    assert await KeywordMiss.filter(sample="我个人认为").exists()


async def test_a_person_whose_erasure_fails_does_not_stop_the_next(settings: Settings) -> None:
    now = datetime.now(UTC)
    failing = await make_user(name="甄隐士")
    conversation = await Conversation.create(
        user=failing, first_message_at=now, last_message_at=now
    )
    # A picture's name no storage key can have: listing its files raises inside the
    # transaction (storage.InvalidKey).
    await Message.create(
        conversation=conversation, author=failing, from_staff=False, body="图",
        picture="x/../y", created_at=now,
    )  # fmt: skip
    next_one = await make_user(name="贾隐士")
    for user in (failing, next_one):
        await _due(user, now)
    [done] = await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert done.user_id == next_one.id
    assert (await User.get(id=failing.id)).erased_at is None  # rolled back, tried next run


async def test_a_file_that_cannot_be_deleted_does_not_stop_the_next_person(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    first = await make_user(name="甄隐士")
    second = await make_user(name="贾隐士")
    posters = settings.var_dir / "media" / "posters"
    stuck = posters / f"poster-1-product-5-{first.id}-zh-0123abcd.png"
    stuck.mkdir(parents=True)  # a directory where a file was expected: its unlink fails
    try:
        for user in (first, second):
            await _due(user, now)
        done = await erasure.erase_due(now=now, var_dir=settings.var_dir)
        assert [d.user_id for d in done] == [first.id, second.id]
    finally:
        stuck.rmdir()


async def test_the_avatars_of_an_erased_account_left_on_disk_are_deleted_by_the_next_run(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    gone = await make_user(name="甄隐士")
    staying = await make_user()
    await User.filter(id=gone.id).update(erased_at=now)
    avatars = settings.var_dir / "media" / "avatars"
    avatars.mkdir(parents=True, exist_ok=True)
    left = avatars / f"user-{gone.id}-v3-small.jpg"
    theirs = avatars / f"user-{staying.id}-v1-small.jpg"
    for path in (left, theirs):
        path.write_bytes(b"jpeg")
    await erasure.erase_due(now=now, var_dir=settings.var_dir)
    assert not left.exists() and theirs.exists()
    theirs.unlink()


def _old(path: Path, minutes: int) -> None:
    moment = time.time() - minutes * 60
    os.utime(path, (moment, moment))


async def test_export_files_no_copy_names_are_swept_once_older_than_the_lease(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    owner = await make_user()
    place = settings.var_dir / "exports"  # LocalStorage: the key "exports/<name>"
    place.mkdir(parents=True, exist_ok=True)
    orphan, young, named = (place / f"{n}-sweep-test.zip" for n in ("orphan", "young", "named"))
    for path in (orphan, young, named):
        path.write_bytes(b"zip")
    _old(orphan, 30)
    _old(named, 30)
    await DataExport.create(
        user=owner, state=ExportState.READY, requested_at=now, file_name=named.name,
        ready_at=now, expires_at=now + timedelta(hours=72),
    )  # fmt: skip
    await export.expire_old(now=now)
    assert (orphan.exists(), young.exists(), named.exists()) == (False, True, True)
    young.unlink()
    named.unlink()
