"""The outbox: written with the change, delivered by a job through a real SMTP server
(aiosmtpd in its own process), retried with growing waits, never sent twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from accounts import outbox
from accounts.mail import Mailer
from accounts.models import OutboxMessage, OutboxState
from jobs.embedded import run_once
from jobs.schedule import PERIODIC, JobContext
from tests.live import free_port
from tests.smtp import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "Maildir")
    yield server
    server.stop()


async def write(key: str, now: datetime, *, to: str = "reader@example.cn") -> None:
    await outbox.enqueue(
        channel="mail",
        recipient=to,
        subject="订单 #12 已支付",
        text="谢谢！我们会尽快发货。",
        html="<p>谢谢！我们会尽快发货。</p>",
        key=key,
        now=now,
    )


async def test_a_message_is_sent_once_with_the_change_and_never_without_it(
    smtp: SmtpServer,
) -> None:
    smtp.start()
    mailer = Mailer(smtp.url, "书院 <noreply@shuyuan.test>")
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await write("receipt:order:11", now)
            raise RuntimeError("the change failed")  # rolled back: no message either
    async with in_transaction():
        await write("receipt:order:12", now)
        await write("receipt:order:12", now)  # the change retried: still one message
    first = await outbox.deliver_due(mailer, now=now)
    again = await outbox.deliver_due(mailer, now=now + timedelta(hours=1))
    assert (first.sent, again.sent) == (1, 0)
    [received] = smtp.received()
    assert received["To"] == "reader@example.cn"
    assert str(received["Subject"]).startswith("=?utf-8?") or "订单" in str(received["Subject"])
    [row] = await OutboxMessage.all()
    # A random Message-ID on the sending domain (never the row's number), and the send's Date.
    assert received["Message-ID"] == f"<{row.message_token}@shuyuan.test>"
    assert re.fullmatch(r"[0-9a-f]{32}", row.message_token or "")
    assert abs((parsedate_to_datetime(received["Date"]) - now).total_seconds()) < 60
    kinds = [part.get_content_type() for part in received.walk()]
    assert "text/plain" in kinds and "text/html" in kinds
    [row] = await OutboxMessage.all()
    assert row.state == OutboxState.SENT and row.attempts == 1


async def test_a_mail_server_that_is_down_delays_mail_then_it_goes(smtp: SmtpServer) -> None:
    mailer = Mailer(smtp.url, "noreply@shuyuan.test")  # nothing listens yet
    now = datetime.now(UTC)
    async with in_transaction():
        await write("shipped:order:7", now)
    down = await outbox.deliver_due(mailer, now=now)
    assert down.retrying == 1
    row = await OutboxMessage.get(dedupe_key="shipped:order:7")
    assert row.state == OutboxState.PENDING and row.attempts == 1 and row.last_error
    assert row.next_attempt_at == now + outbox.wait_after(1)
    smtp.start()
    assert (await outbox.deliver_due(mailer, now=now + timedelta(seconds=5))).sent == 0  # not due
    assert (await outbox.deliver_due(mailer, now=row.next_attempt_at)).sent == 1
    assert len(smtp.received()) == 1


async def test_a_message_that_never_goes_is_parked_after_its_last_attempt() -> None:
    mailer = Mailer(f"smtp://127.0.0.1:{free_port()}", "noreply@shuyuan.test")
    now = datetime.now(UTC)
    async with in_transaction():
        await write("reminder:window:3", now)
    for _ in range(outbox.MAX_ATTEMPTS):
        row = await OutboxMessage.get(dedupe_key="reminder:window:3")
        await outbox.deliver_due(mailer, now=row.next_attempt_at)
    row = await OutboxMessage.get(dedupe_key="reminder:window:3")
    assert row.state == OutboxState.FAILED and row.attempts == outbox.MAX_ATTEMPTS
    assert [outbox.wait_after(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]


async def test_a_message_left_sending_by_a_dead_run_is_never_sent_again(
    smtp: SmtpServer,
) -> None:
    smtp.start()
    now = datetime.now(UTC)
    async with in_transaction():
        await write("mention:post:5", now)
    # A run claimed it and died before it could say whether the server took it.
    await OutboxMessage.filter(dedupe_key="mention:post:5").update(
        state=OutboxState.SENDING, claimed_at=now, attempts=1
    )
    mailer = Mailer(smtp.url, "noreply@shuyuan.test")
    assert (await outbox.deliver_due(mailer, now=now + timedelta(hours=1))).sent == 0
    assert await outbox.settle_stuck(now=now + timedelta(minutes=11)) == 1
    assert (await OutboxMessage.get(dedupe_key="mention:post:5")).state == OutboxState.UNKNOWN
    assert smtp.received() == []


async def test_the_schedules_outbox_job_delivers(app: Starlette, smtp: SmtpServer) -> None:
    smtp.start()
    now = datetime.now(UTC) - timedelta(seconds=1)
    async with in_transaction():
        await write("receipt:order:99", now)
    [job] = [job for job in PERIODIC if job.name == "accounts.deliver_outbox"]
    mailer = Mailer(smtp.url, "noreply@shuyuan.test")
    await run_once(job, JobContext(provider=app.state.payments_provider, mailer=mailer))
    assert len(smtp.received()) == 1
    # Without SMTP_URL the job sends nothing and the message waits.
    async with in_transaction():
        await write("receipt:order:100", now)
    await run_once(job, JobContext(provider=app.state.payments_provider))
    assert (await OutboxMessage.get(dedupe_key="receipt:order:100")).state == OutboxState.PENDING


async def test_a_run_of_the_job_sends_batch_after_batch_until_none_is_full(
    smtp: SmtpServer,
) -> None:
    smtp.start()
    mailer = Mailer(smtp.url, "书院 <noreply@shuyuan.test>")
    now = datetime.now(UTC)
    for n in range(25):
        await write(f"broadcast:1:{n}", now, to=f"reader{n}@example.cn")
    delivered = await outbox.deliver_for(mailer, now=now, limit=10)  # batches of 10, 10 and 5
    assert delivered.sent == 25
    assert len(smtp.received()) == 25
    assert await OutboxMessage.filter(state=OutboxState.SENT).count() == 25
